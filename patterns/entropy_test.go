package patterns

import (
	"math"
	"testing"
)

func TestShannonEntropy(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, tc := range []struct {
		in   []byte
		want float64
	}{
		{nil, 0},
		{[]byte("aaaaaaaa"), 0},
		{[]byte("abababab"), 1},
		{[]byte("abcd"), 2},
		{[]byte("aab"), -(2.0/3*math.Log2(2.0/3) + 1.0/3*math.Log2(1.0/3))},
		{all, 8},
	} {
		if got := ShannonEntropy(tc.in); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("ShannonEntropy(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
