// Package record keeps the deliveries a dispatch.Endpoint answers, for
// debugging, auditing and tests: an [Archive] writes them in the
// repository's testdata fixture format, so that deliveries recorded in
// staging replay in unit tests (package dispatch/replay).
//
//	archive, err := record.New("recorded", record.Config{})
//	if err != nil {
//		return err
//	}
//	ep := dispatch.NewEndpoint(v, p, r, dispatch.WithArchive(archive))
package record
