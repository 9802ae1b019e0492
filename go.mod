module github.com/hookkit/hookkit

go 1.26.0

require github.com/stripe/stripe-go/v76 v76.25.0
