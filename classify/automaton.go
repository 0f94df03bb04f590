package classify

// automaton is an Aho-Corasick matcher compiled to a dense DFA over byte equivalence classes.
// It reports every occurrence of every key, overlapping ones included, in one pass over the
// text and without allocating. Keys and texts are folded (see appendFolded) before they get here.
//
// A library was considered; the ones available either allocate a match slice per search or
// hide the end offsets, and the classifier needs both zero allocations on its hot path and the
// offsets to verify pattern wildcards around the literal anchor.
type automaton struct {
	classes  [256]uint8 // byte → equivalence class; 0 = a byte that no key contains
	nclasses int
	// delta[row+class] is the next state's row (state*nclasses), with outputFlag set when
	// keys end at that state; row 0 is the start state. Keeping the row, not the state,
	// saves a multiplication per byte, and the flag saves a lookup in outStart for the
	// states (most of them) where no key ends.
	delta    []int32
	outStart []int32 // state → first index into outs; outStart[state+1] ends it
	outs     []int32 // ids of the keys that end at a state (own and inherited through failure links)
	maxKey   int     // length of the longest key
}

// outputFlag marks a delta entry whose state has outputs.
const outputFlag = -1 << 31

// buildAutomaton compiles keys; a match of keys[i] is reported as ids[i]. Empty keys are
// ignored.
func buildAutomaton(keys []string, ids []int32) *automaton {
	a := &automaton{}
	// Equivalence classes: every byte used in a key gets its own class.
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			a.classes[k[i]] = 1
		}
	}
	n := 1
	for b := 0; b < 256; b++ {
		if a.classes[b] != 0 {
			a.classes[b] = uint8(n)
			n++
		}
	}
	a.nclasses = n

	// Trie.
	type node struct {
		next map[uint8]int32
		out  []int32
	}
	nodes := []node{{next: map[uint8]int32{}}}
	for id, k := range keys {
		a.maxKey = max(a.maxKey, len(k))
		if k == "" {
			continue
		}
		s := int32(0)
		for i := 0; i < len(k); i++ {
			c := a.classes[k[i]]
			nx, ok := nodes[s].next[c]
			if !ok {
				nx = int32(len(nodes))
				nodes = append(nodes, node{next: map[uint8]int32{}})
				nodes[s].next[c] = nx
			}
			s = nx
		}
		nodes[s].out = append(nodes[s].out, ids[id])
	}

	// Breadth-first failure links, filled straight into the dense table.
	a.delta = make([]int32, len(nodes)*n)
	fail := make([]int32, len(nodes))
	queue := make([]int32, 0, len(nodes))
	for c := 0; c < n; c++ {
		if nx, ok := nodes[0].next[uint8(c)]; ok {
			a.delta[c] = nx
			fail[nx] = 0
			queue = append(queue, nx)
		}
	}
	outs := make([][]int32, len(nodes))
	outs[0] = nodes[0].out
	for qi := 0; qi < len(queue); qi++ {
		s := queue[qi]
		outs[s] = append(append([]int32(nil), nodes[s].out...), outs[fail[s]]...)
		for c := 0; c < n; c++ {
			if nx, ok := nodes[s].next[uint8(c)]; ok {
				a.delta[int(s)*n+c] = nx
				fail[nx] = a.delta[int(fail[s])*n+c]
				queue = append(queue, nx)
			} else {
				a.delta[int(s)*n+c] = a.delta[int(fail[s])*n+c]
			}
		}
	}
	for i, next := range a.delta {
		flagged := next * int32(n)
		if len(outs[next]) > 0 {
			flagged |= outputFlag
		}
		a.delta[i] = flagged
	}
	a.outStart = make([]int32, len(nodes)+1)
	for s := range nodes {
		a.outStart[s+1] = a.outStart[s] + int32(len(outs[s]))
		a.outs = append(a.outs, outs[s]...)
	}
	return a
}

// states returns the number of DFA states, for diagnostics.
func (a *automaton) states() int { return len(a.outStart) - 1 }
