package dispatch

import "errors"

// ErrNoTransaction is what a handler that needs the host's transaction
// returns when its context carries none (sqltx.Tx or pgxtx.Tx said ok =
// false): its Endpoint was mounted without the transactional accept step
// (dispatch.WithAcceptor(db.Acceptor()) of dispatch/sqltx or dispatch/pgxtx)
// and is not a dispatch/riverqueue worker. It is not permanent: the sender
// retries until the Endpoint is mounted as it should be, and nothing is
// dead-lettered for a configuration mistake.
var ErrNoTransaction = errors.New("dispatch: no transaction in the handler's context: " +
	"mount its Endpoint with dispatch.WithAcceptor(db.Acceptor()) from dispatch/sqltx or dispatch/pgxtx, or run it through dispatch/riverqueue")
