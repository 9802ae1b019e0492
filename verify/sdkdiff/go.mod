module github.com/hookkit/hookkit/verify/sdkdiff

go 1.26.0

require (
	github.com/hookkit/hookkit v0.1.0
	github.com/standard-webhooks/standard-webhooks/libraries v0.0.1
	github.com/twilio/twilio-go v1.31.0
)

require (
	github.com/golang/mock v1.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
)
