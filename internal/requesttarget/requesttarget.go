// Package requesttarget tells the target of a request as its client sent
// it: what verify signs Twilio's URLs over and what dispatch logs.
package requesttarget

import (
	"net/http"
	"strings"
)

// Of returns r's path and query exactly as the client sent them
// (r.RequestURI on a server), or as r.URL would send them.
func Of(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	if r.URL == nil {
		return "/"
	}
	return r.URL.RequestURI()
}
