package verify

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/hookkit/hookkit/internal/logtext"
	"github.com/hookkit/hookkit/internal/requesttarget"
)

// maxQueryPermutations bounds the query orders tried: every order of up
// to five parameters (120), beyond that the received order sorted.
const maxQueryPermutations = 5

// twilioURL rebuilds the URLs Twilio may have signed (the scheme, host,
// port, path and query variants a proxy or tunnel produces) and names the
// first that verifies.
func (d *diagnoser) twilioURL() *Diagnosis {
	if d.cfg.Scheme != "twilio" {
		return nil
	}
	v, err := NewTwilio(d.secrets[0], d.opts...)
	if err != nil {
		return nil
	}
	rebuilt := v.URL(d.r)
	target := requesttarget.Of(d.r)
	origins := d.twilioOrigins()
	for _, t := range twilioTargets(d.r, target) {
		r := d.r.Clone(d.r.Context())
		r.RequestURI = t
		for _, origin := range origins {
			opts := append(append([]Option(nil), d.other...), WithPublicURL(origin))
			if !d.verifies(r, d.body, d.secrets, opts) {
				continue
			}
			signed := origin + t
			detail := fmt.Sprintf("Twilio signed %s, but the verifier rebuilt %s", logtext.Clip(signed, maxLoggedURL), logtext.Clip(rebuilt, maxLoggedURL))
			switch {
			case t == target:
				detail += fmt.Sprintf(": behind a proxy or tunnel, give the public origin with WithPublicURL(%q)", origin)
			case strings.SplitN(t, "?", 2)[0] != strings.SplitN(target, "?", 2)[0]:
				detail += ": something in front of the application rewrites the path; configure it to pass the path Twilio requested"
				if origin+target != rebuilt {
					detail += fmt.Sprintf(", and set WithPublicURL(%q)", origin)
				}
			default:
				detail += ": the query string reached the application changed (reordered or re-encoded); it must arrive as Twilio sent it"
				if origin+target != rebuilt {
					detail += fmt.Sprintf(", and set WithPublicURL(%q)", origin)
				}
			}
			dg := found(CheckSignature, CauseTwilioURL, detail)
			dg.URL = signed
			return dg
		}
	}
	return nil
}

// twilioOrigins are the scheme://host[:port] candidates: every host the
// request names (Host, the forwarding headers, the configured public URL),
// with and without a port, under both schemes.
func (d *diagnoser) twilioOrigins() []string {
	h := d.r.Header
	hosts := []string{d.merged.publicHost, d.r.Host, firstForwarded(h.Get("X-Forwarded-Host")), h.Get("X-Original-Host")}
	if fwd := h.Get("Forwarded"); fwd != "" {
		for _, part := range strings.Split(strings.Split(fwd, ",")[0], ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "host="); ok {
				hosts = append(hosts, strings.Trim(v, `"`))
			}
		}
	}
	ports := []string{"", "443", "80", firstForwarded(h.Get("X-Forwarded-Port"))}
	var all []string
	for _, host := range hosts {
		if host == "" {
			continue
		}
		name := host
		if n, port, err := net.SplitHostPort(host); err == nil {
			name = n
			ports = append(ports, port)
		}
		for _, port := range ports {
			hp := name
			if port != "" {
				hp = net.JoinHostPort(name, port)
			} else if strings.Contains(name, ":") {
				hp = "[" + name + "]"
			}
			all = append(all, "https://"+hp, "http://"+hp)
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	// The configured origin's scheme first: https is what Twilio uses.
	slices.SortStableFunc(all, func(a, b string) int {
		return boolRank(strings.HasPrefix(b, "https:")) - boolRank(strings.HasPrefix(a, "https:"))
	})
	return all
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// twilioTargets are the path-and-query candidates: as received first, then
// the original target a proxy reports, the path with its trailing slash
// toggled, and the query in other orders or dropped.
func twilioTargets(r *http.Request, target string) []string {
	out := []string{target}
	h := r.Header
	for _, name := range []string{"X-Original-Uri", "X-Forwarded-Uri", "X-Rewrite-Url", "X-Original-Url"} {
		if v := h.Get(name); strings.HasPrefix(v, "/") {
			out = append(out, v)
		}
	}
	if prefix := strings.TrimSuffix(h.Get("X-Forwarded-Prefix"), "/"); strings.HasPrefix(prefix, "/") {
		out = append(out, prefix+target)
	}
	path, query, hasQuery := strings.Cut(target, "?")
	withQuery := func(p string) string {
		if hasQuery {
			return p + "?" + query
		}
		return p
	}
	if strings.HasSuffix(path, "/") && len(path) > 1 {
		out = append(out, withQuery(strings.TrimSuffix(path, "/")))
	} else {
		out = append(out, withQuery(path+"/"))
	}
	if hasQuery {
		pairs := strings.Split(query, "&")
		if len(pairs) <= maxQueryPermutations {
			permute(pairs, 0, func(p []string) { out = append(out, path+"?"+strings.Join(p, "&")) })
		} else {
			sorted := slices.Clone(pairs)
			slices.Sort(sorted)
			out = append(out, path+"?"+strings.Join(sorted, "&"))
		}
		out = append(out, path)
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, t := range out {
		if !seen[t] {
			seen[t] = true
			uniq = append(uniq, t)
		}
	}
	return uniq
}

// permute calls f with every order of s.
func permute(s []string, k int, f func([]string)) {
	if k == len(s) {
		f(s)
		return
	}
	for i := k; i < len(s); i++ {
		s[k], s[i] = s[i], s[k]
		permute(s, k+1, f)
		s[k], s[i] = s[i], s[k]
	}
}
