// Package twilioreconcile is the dispatch/reconcile Source of Twilio's
// message status callbacks: it lists an account's messages sent in the
// reconciler's window through twilio-go (the Messages resource,
// GET /2010-04-01/Accounts/{AccountSid}/Messages.json, filtered by
// "DateSent>" and "DateSent<", paged by next_page_uri), and turns each
// message's current status into the status callback Twilio would have
// posted for it: the form of MessageSid, SmsSid, AccountSid, From, To,
// MessageStatus, SmsStatus, ApiVersion (and MessagingServiceSid,
// ErrorCode when the message has them). package events/twilioevent parses
// it as it parses the callback, with the same ID ("SM...:delivered"), so a
// callback that arrives later is a duplicate, and one that came first
// makes the recovered event one.
//
// Twilio keeps no event for each status a message went through, only the
// message's current status: a message that went queued, sent, delivered
// while every callback was lost is recovered as message.delivered alone.
// A status can also change after the window that listed the message has
// passed (a carrier's late delivery report): Config.Revisit lists messages
// sent that long before each window again, so that such a change is
// recovered too (an unchanged status is a duplicate).
//
// The Messages resource cannot be filtered by status: the Source reads
// every message of the window, and feeds the Endpoint only those whose
// status the router handles (dispatch.Router.Patterns); a router with no
// message pattern fetches nothing at all.
//
// twilio-go is a heavy dependency, so this is a module of its own: a host
// that reconciles only Stripe never finds it in its build.
package twilioreconcile
