// Package storetest is the conformance suite for idempotency.Store
// implementations, in the spirit of testing/slogtest: one call runs every
// check of the contract against a store, so third-party stores can prove
// they behave like the ones hookkit ships.
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) idempotency.Store { return newMyStore(t) })
//	}
//
// [Run] uses real time with leases of a few hundred milliseconds; stores that
// accept a clock can also run [RunWithClock], which checks long durations
// (the 72-hour keep window) without waiting for them.
package storetest
