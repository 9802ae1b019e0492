package verify

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// jsonNode is a parsed JSON value that keeps its scalars' text and its
// keys' order.
type jsonNode struct {
	kind   byte // '{', '[' or 0 for a scalar
	raw    []byte
	keys   [][]byte // string literals, for objects
	values []*jsonNode
}

// parseJSON parses a valid JSON text.
func parseJSON(text []byte) (*jsonNode, error) {
	p := jsonParser{text: text}
	n := p.value()
	if p.err != nil {
		return nil, p.err
	}
	return n, nil
}

type jsonParser struct {
	text []byte
	i    int
	err  error
}

func (p *jsonParser) skip() {
	for p.i < len(p.text) && strings.IndexByte(" \t\r\n", p.text[p.i]) >= 0 {
		p.i++
	}
}

func (p *jsonParser) value() *jsonNode {
	p.skip()
	if p.i >= len(p.text) {
		p.err = fmt.Errorf("unexpected end of JSON")
		return nil
	}
	switch c := p.text[p.i]; c {
	case '{', '[':
		n := &jsonNode{kind: c}
		p.i++
		for {
			p.skip()
			if p.i < len(p.text) && (p.text[p.i] == '}' || p.text[p.i] == ']') {
				p.i++
				return n
			}
			if c == '{' {
				start := p.i
				p.i = stringEnd(p.text, p.i)
				n.keys = append(n.keys, p.text[start:p.i])
				p.skip()
				p.i++ // ':'
			}
			n.values = append(n.values, p.value())
			if p.err != nil {
				return nil
			}
			p.skip()
			if p.i < len(p.text) && p.text[p.i] == ',' {
				p.i++
			}
		}
	case '"':
		start := p.i
		p.i = stringEnd(p.text, p.i)
		return &jsonNode{raw: p.text[start:p.i]}
	default:
		start := p.i
		for p.i < len(p.text) && strings.IndexByte(" \t\r\n,]}", p.text[p.i]) < 0 {
			p.i++
		}
		return &jsonNode{raw: p.text[start:p.i]}
	}
}

// unsorted reports whether an object in n has its keys out of order.
func (n *jsonNode) unsorted() bool {
	for i := 1; i < len(n.keys); i++ {
		if bytes.Compare(n.keys[i-1], n.keys[i]) > 0 {
			return true
		}
	}
	for _, c := range n.values {
		if c.unsorted() {
			return true
		}
	}
	return false
}

// jsonLayout is a way of writing JSON.
type jsonLayout struct {
	indent, colon, comma string
	sorted               bool
	escape               func([]byte) []byte
}

func (l jsonLayout) write(n *jsonNode) []byte { return l.append(nil, n, 0) }

func (l jsonLayout) str(lit []byte) []byte {
	if l.escape != nil {
		return l.escape(lit)
	}
	return lit
}

func (l jsonLayout) newline(b []byte, depth int) []byte {
	if l.indent == "" {
		return b
	}
	b = append(b, '\n')
	for range depth {
		b = append(b, l.indent...)
	}
	return b
}

func (l jsonLayout) append(b []byte, n *jsonNode, depth int) []byte {
	if n.kind == 0 {
		if len(n.raw) > 0 && n.raw[0] == '"' {
			return append(b, l.str(n.raw)...)
		}
		return append(b, n.raw...)
	}
	if len(n.values) == 0 {
		return append(b, n.kind, n.kind+2) // {} and []
	}
	order := make([]int, len(n.values))
	for i := range order {
		order[i] = i
	}
	if l.sorted && n.kind == '{' {
		slices.SortStableFunc(order, func(a, c int) int {
			return strings.Compare(decodeJSONString(n.keys[a]), decodeJSONString(n.keys[c]))
		})
	}
	b = append(b, n.kind)
	for k, i := range order {
		if k > 0 {
			if l.indent != "" {
				b = append(b, ',')
			} else {
				b = append(b, l.comma...)
			}
		}
		b = l.newline(b, depth+1)
		if n.kind == '{' {
			b = append(append(b, l.str(n.keys[i])...), l.colon...)
		}
		b = l.append(b, n.values[i], depth+1)
	}
	b = l.newline(b, depth)
	return append(b, n.kind+2)
}
