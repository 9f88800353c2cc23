package testbed

// confirmHolders takes the holders of one VIP that a sweep found, in the
// order it read them, and keeps those that held it all at once: with two
// or more, every one but the last read is asked again (holds, read after
// the sweep) and kept only if it still holds — then it held throughout,
// so when the last one was read. The last one read is always kept.
func confirmHolders(hs []int, holds func(node int) (bool, error)) ([]int, error) {
	if len(hs) < 2 {
		return hs, nil
	}
	kept := make([]int, 0, len(hs))
	for _, i := range hs[:len(hs)-1] {
		ok, err := holds(i)
		if err != nil {
			return nil, err
		}
		if ok {
			kept = append(kept, i)
		}
	}
	return append(kept, hs[len(hs)-1]), nil
}
