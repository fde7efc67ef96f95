package api

// Endpoint is one call of the key API and the scope the API demands for it.
// The owner console's permission preview is computed from this list, so
// what it promises is what ServeHTTP enforces (docs/console.md).
type Endpoint struct {
	Method string
	// Path is the route, with {id} where an id goes.
	Path string
	// Scope is what a key needs ("" for none: every valid key).
	Scope string
	// What the call does, for people.
	Summary string
}

// Endpoints lists the key API's calls authenticated by an API key, each
// with its scope: the route table ServeHTTP enforces (routes.go), never
// restated.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(routeTable))
	for i, r := range routeTable {
		out[i] = r.Endpoint
	}
	return out
}
