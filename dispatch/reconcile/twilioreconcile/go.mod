module github.com/hookkit/hookkit/dispatch/reconcile/twilioreconcile

go 1.26.0

require (
	github.com/hookkit/hookkit v0.1.0
	github.com/twilio/twilio-go v1.31.0
)

require (
	github.com/golang/mock v1.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/stripe/stripe-go/v76 v76.25.0 // indirect
)
