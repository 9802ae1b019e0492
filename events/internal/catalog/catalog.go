// Package catalog builds the provider packages' Catalogs: the sorted names
// of their typed event keys.
package catalog

import "slices"

// Names returns the names of types (events.Type values of any Go type),
// sorted.
func Names(types ...interface{ Name() string }) []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name()
	}
	slices.Sort(names)
	return names
}
