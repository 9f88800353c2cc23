package testbed

import (
	"errors"
	"fmt"
	"testing"
)

func TestConfirmHolders(t *testing.T) {
	for _, tc := range []struct {
		sweep, still []int // found by the sweep; holding when asked again
		want         string
		asked        string
	}{
		{sweep: nil, want: "[]", asked: "[]"},
		{sweep: []int{2}, want: "[2]", asked: "[]"},
		// A handover during the sweep: node 0 read before it let go,
		// node 1 after it took over.
		{sweep: []int{0, 1}, still: nil, want: "[1]", asked: "[0]"},
		// A real overlap: node 0 still holds after node 1 was read.
		{sweep: []int{0, 1}, still: []int{0}, want: "[0 1]", asked: "[0]"},
		{sweep: []int{0, 1, 2}, still: []int{0}, want: "[0 2]", asked: "[0 1]"},
		{sweep: []int{0, 3, 4}, still: []int{0, 3}, want: "[0 3 4]", asked: "[0 3]"},
	} {
		var asked []int
		got, err := confirmHolders(tc.sweep, func(i int) (bool, error) {
			asked = append(asked, i)
			for _, s := range tc.still {
				if s == i {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != tc.want && !(tc.want == "[]" && len(got) == 0) {
			t.Errorf("sweep %v, still %v: got %v, want %s", tc.sweep, tc.still, got, tc.want)
		}
		if fmt.Sprint(asked) != tc.asked && !(tc.asked == "[]" && len(asked) == 0) {
			t.Errorf("sweep %v: asked again %v, want %s", tc.sweep, asked, tc.asked)
		}
	}
	boom := errors.New("boom")
	if _, err := confirmHolders([]int{0, 1}, func(int) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("error %v, want boom", err)
	}
}
