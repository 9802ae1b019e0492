package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonValue is a JSON value that keeps its keys' order and its scalars'
// text, so an edited event reads like the sender's.
type jsonValue struct {
	kind   byte // '{', '[' or 0 for a scalar
	raw    json.RawMessage
	keys   []string
	values []*jsonValue
}

// parseOrdered parses a JSON text.
func parseOrdered(text []byte) (*jsonValue, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	v, err := decodeOrdered(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func decodeOrdered(dec *json.Decoder) (*jsonValue, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		v := &jsonValue{kind: byte(t)}
		for dec.More() {
			if v.kind == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, k.(string))
			}
			child, err := decodeOrdered(dec)
			if err != nil {
				return nil, err
			}
			v.values = append(v.values, child)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return v, nil
	default:
		raw, err := marshalScalar(t)
		return &jsonValue{raw: raw}, err
	}
}

// marshalScalar writes a scalar as JSON, without HTML escapes.
func marshalScalar(v any) (json.RawMessage, error) {
	if n, ok := v.(json.Number); ok {
		return json.RawMessage(n.String()), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// write writes v, indented by indent ("" for compact).
func (v *jsonValue) write(indent string) []byte {
	var b bytes.Buffer
	v.append(&b, indent, 0)
	return b.Bytes()
}

func (v *jsonValue) append(b *bytes.Buffer, indent string, depth int) {
	if v.kind == 0 {
		b.Write(v.raw)
		return
	}
	closing := byte('}')
	if v.kind == '[' {
		closing = ']'
	}
	b.WriteByte(v.kind)
	if len(v.values) == 0 {
		b.WriteByte(closing)
		return
	}
	for i, child := range v.values {
		if i > 0 {
			b.WriteByte(',')
		}
		if indent != "" {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(indent, depth+1))
		}
		if v.kind == '{' {
			k, _ := marshalScalar(v.keys[i])
			b.Write(k)
			b.WriteByte(':')
			if indent != "" {
				b.WriteByte(' ')
			}
		}
		child.append(b, indent, depth+1)
	}
	if indent != "" {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(indent, depth))
	}
	b.WriteByte(closing)
}

// get returns the value at a dotted path, or nil.
func (v *jsonValue) get(path string) *jsonValue {
	for _, part := range splitPath(path) {
		v = v.child(part)
		if v == nil {
			return nil
		}
	}
	return v
}

func (v *jsonValue) child(part string) *jsonValue {
	switch v.kind {
	case '{':
		for i, k := range v.keys {
			if k == part {
				return v.values[i]
			}
		}
	case '[':
		if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(v.values) {
			return v.values[i]
		}
	}
	return nil
}

// set sets the value at a dotted path (array elements by index), creating
// the objects on the way. A key that holds a dot is written with "\.".
func (v *jsonValue) set(path string, value *jsonValue) error {
	parts := splitPath(path)
	if len(parts) == 0 {
		return errors.New("empty path")
	}
	for i, part := range parts {
		last := i == len(parts)-1
		switch v.kind {
		case '{':
			j := indexOf(v.keys, part)
			if j < 0 {
				v.keys = append(v.keys, part)
				v.values = append(v.values, &jsonValue{kind: '{'})
				j = len(v.values) - 1
			}
			if last {
				v.values[j] = value
				return nil
			}
			if v.values[j].kind == 0 {
				v.values[j] = &jsonValue{kind: '{'}
			}
			v = v.values[j]
		case '[':
			j, err := strconv.Atoi(part)
			switch {
			case err != nil || j < 0 || j > len(v.values):
				return fmt.Errorf("%s: %q is not an index of an array of %d", path, part, len(v.values))
			case j == len(v.values):
				v.values = append(v.values, &jsonValue{kind: '{'})
			}
			if last {
				v.values[j] = value
				return nil
			}
			v = v.values[j]
		default:
			return fmt.Errorf("%s: %s is not an object or an array", path, strings.Join(parts[:i], "."))
		}
	}
	return nil
}

// remove deletes the key at a dotted path, if there is one.
func (v *jsonValue) remove(path string) bool {
	parts := splitPath(path)
	if len(parts) == 0 {
		return false
	}
	parent := v
	if len(parts) > 1 {
		parent = v.get(strings.Join(escapeParts(parts[:len(parts)-1]), "."))
	}
	if parent == nil || parent.kind != '{' {
		return false
	}
	j := indexOf(parent.keys, parts[len(parts)-1])
	if j < 0 {
		return false
	}
	parent.keys = append(parent.keys[:j], parent.keys[j+1:]...)
	parent.values = append(parent.values[:j], parent.values[j+1:]...)
	return true
}

func indexOf(keys []string, k string) int {
	for i, key := range keys {
		if key == k {
			return i
		}
	}
	return -1
}

// splitPath splits a dotted path; "\." is a dot inside a key.
func splitPath(path string) []string {
	if path == "" {
		return nil
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(path); i++ {
		switch {
		case path[i] == '\\' && i+1 < len(path) && path[i+1] == '.':
			cur.WriteByte('.')
			i++
		case path[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(path[i])
		}
	}
	return append(parts, cur.String())
}

func escapeParts(parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = strings.ReplaceAll(p, ".", `\.`)
	}
	return out
}

// setValue parses the value of --set path=value for the value it
// replaces: text is a string, unless the old value is a number, a boolean
// or null and text is valid JSON; path:=json sets raw JSON.
func setValue(old *jsonValue, text string, raw bool) (*jsonValue, error) {
	if raw {
		v, err := parseOrdered([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		return v, nil
	}
	if old != nil && old.kind == 0 && len(old.raw) > 0 && old.raw[0] != '"' && json.Valid([]byte(text)) {
		return parseOrdered([]byte(text))
	}
	s, _ := marshalScalar(text)
	return &jsonValue{raw: s}, nil
}

// editJSON applies --set edits (path=value, path:=json, and path- to
// delete) to a JSON body, keeping its layout: indented as Stripe's are
// when it was indented.
func editJSON(body []byte, sets []string) ([]byte, error) {
	root, err := parseOrdered(body)
	if err != nil {
		return nil, err
	}
	for _, s := range sets {
		path, text, raw, del, err := splitSet(s)
		if err != nil {
			return nil, err
		}
		if del {
			if !root.remove(path) {
				return nil, fmt.Errorf("--set %s: no such field", s)
			}
			continue
		}
		v, err := setValue(root.get(path), text, raw)
		if err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
		if err := root.set(path, v); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	indent := ""
	if bytes.Contains(bytes.TrimSpace(body), []byte("\n")) {
		indent = "  "
	}
	return root.write(indent), nil
}

// splitSet splits a --set argument: "path=value", "path:=json" or
// "path-" (delete).
func splitSet(s string) (path, value string, raw, del bool, err error) {
	i := strings.IndexByte(s, '=')
	if i < 0 {
		if p, ok := strings.CutSuffix(s, "-"); ok && p != "" {
			return p, "", false, true, nil
		}
		return "", "", false, false, usageErr("--set %q: want path=value, path:=json or path- (delete)", s)
	}
	path, value = s[:i], s[i+1:]
	if p, ok := strings.CutSuffix(path, ":"); ok {
		path, raw = p, true
	}
	if path == "" {
		return "", "", false, false, usageErr("--set %q: empty path", s)
	}
	return path, value, raw, false, nil
}

// decodeString decodes a JSON string literal.
func decodeString(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return string(raw)
	}
	return s
}
