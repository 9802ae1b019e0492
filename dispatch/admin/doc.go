// Package admin serves a dispatch.DeadLetterStore over HTTP, for an
// operator's tools: list and get dead letters as JSON, re-run or discard
// one with a POST.
//
//	h, err := admin.New(admin.Config{
//		Store:     hk.DeadLetters(),
//		Routers:   map[string]*dispatch.Router{"stripe": stripeRouter},
//		Authorize: isOperator, // your own check; admin.AllowAll to open it deliberately
//	})
//	mux.Handle("/admin/dead-letters/", http.StripPrefix("/admin/dead-letters", h))
//
// The routes, relative to where it is mounted:
//
//	GET  /                 a page of dead letters: ?source= &type= &since= &until= (RFC 3339) &limit= &after=
//	GET  /{key}            one, with its raw body
//	POST /{key}/rerun      run it again through its source's router
//	POST /{key}/discard    close it without running it
//
// It works under any prefix, however it is mounted: behind
// http.StripPrefix, under chi's Mount (which hands it the whole path), or
// a router that strips its mount point. It reads its routes from the end of
// the path (an event's key always holds a colon: "stripe:evt_1"), answers
// the mount point itself as the listing, with or without a trailing slash,
// and never redirects.
//
// It has no authentication of its own: dead letters hold customers' data,
// and re-running one moves money. The host authenticates (its session, its
// tokens, its middleware) and [New] refuses to build without
// [Config.Authorize], so mounting it open takes a deliberate [AllowAll]. The
// POST routes accept only Content-Type application/json, which a form on
// another site cannot send without the browser asking first (CORS), so a
// logged-in operator's browser cannot be made to re-run or discard one.
//
// Answers: 200 with JSON; 404 for a key that is not a dead letter; 409 only
// when a re-run's handler failed again (the letter stays, with the new
// error); 415 for a POST that is not JSON; 403 when Authorize says no; 503
// with Retry-After when the store cannot be reached; 400 for a malformed
// query, or a filter or cursor the store refuses
// (dispatch.ErrInvalidFilter); 405 for a route's other methods.
package admin
