package main

import (
	"fmt"
	"net/url"
	"strings"
)

// editForm applies --set edits (name=value, and name- to delete) to a
// form body, keeping the parameters' order and the others' encoding.
func editForm(body []byte, sets []string) ([]byte, error) {
	var pairs []string
	if len(body) > 0 {
		pairs = strings.Split(string(body), "&")
	}
	find := func(name string) int {
		for i, p := range pairs {
			k, _, _ := strings.Cut(p, "=")
			if key, err := url.QueryUnescape(k); err == nil && key == name {
				return i
			}
		}
		return -1
	}
	for _, s := range sets {
		name, value, raw, del, err := splitSet(s)
		if err != nil {
			return nil, err
		}
		if raw {
			return nil, usageErr("--set %q: a form has no JSON values; use name=value", s)
		}
		i := find(name)
		if del {
			if i < 0 {
				return nil, fmt.Errorf("--set %s: no such parameter", s)
			}
			pairs = append(pairs[:i], pairs[i+1:]...)
			continue
		}
		pair := url.QueryEscape(name) + "=" + url.QueryEscape(value)
		if i < 0 {
			pairs = append(pairs, pair)
		} else {
			pairs[i] = pair
		}
	}
	return []byte(strings.Join(pairs, "&")), nil
}

// formValue returns the first value of name in a form body.
func formValue(body []byte, name string) string {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return form.Get(name)
}
