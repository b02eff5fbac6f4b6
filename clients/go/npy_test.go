package ballast

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func TestNpyRoundTrip(t *testing.T) {
	for _, in := range []*Tensor{
		NewFloat64([]float64{1.5, math.Copysign(0, -1), math.Inf(1), 1e308, 5e-324}),
		NewFloat64([]float64{1, 2, 3, 4, 5, 6}, 2, 3),
		NewFloat32([]float32{1, 0.1, -2}),
		NewInt64([]int64{-1, 1 << 62, 0}),
		NewInt64([]int64{7}, []int{}...),
		{Shape: []int{}, Float64: []float64{3.25}},
		{Shape: []int{0, 3}, Float64: []float64{}},
	} {
		b, err := EncodeNpy(in)
		if err != nil {
			t.Fatal(err)
		}
		hlen := int(b[8]) | int(b[9])<<8
		if (10+hlen)%64 != 0 || b[10+hlen-1] != '\n' {
			t.Fatalf("header of %d bytes: data not aligned to 64", hlen)
		}
		out, err := DecodeNpy(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out.Dims(), in.Dims()) || out.Len() != in.Len() {
			t.Fatalf("shape %v -> %v", in.Dims(), out.Dims())
		}
		for i := 0; i < in.Len(); i++ {
			if math.Float64bits(out.At(i)) != math.Float64bits(in.At(i)) {
				t.Fatalf("element %d: %v -> %v", i, in.At(i), out.At(i))
			}
		}
		if (in.Float32 != nil) != (out.Float32 != nil) || (in.Int64 != nil) != (out.Int64 != nil) {
			t.Fatalf("dtype changed")
		}
	}
	// The header NumPy writes for np.save(np.arange(3, dtype='<i4')), format 1.0.
	hdr := "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }"
	hdr += spaces((64-(10+len(hdr)+1)%64)%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(hdr)), 0)
	b = append(append(b, hdr...), 0, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff)
	out, err := DecodeNpy(b)
	if err != nil || !reflect.DeepEqual(out.Int64, []int64{0, 1, -1}) {
		t.Fatalf("<i4: %+v %v", out, err)
	}
	for _, bad := range [][]byte{
		[]byte("not npy at all"),
		b[:len(b)-1], // truncated
		[]byte("\x93NUMPY\x01\x00\x40\x00{'descr': '>f8', 'fortran_order': False, 'shape': (0,), }         \n"),
		[]byte("\x93NUMPY\x01\x00\x40\x00{'descr': '<f8', 'fortran_order': True, 'shape': (0,), }          \n"),
	} {
		if _, err := DecodeNpy(bad); err == nil {
			t.Fatalf("decoded %q", bad)
		}
	}
	if _, err := EncodeNpy(NewFloat64([]float64{1, 2, 3}, 2, 2)); err == nil {
		t.Fatal("encoded a shape that does not fit")
	}
}

func spaces(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	return string(b)
}

func TestTensorJSON(t *testing.T) {
	b, err := json.Marshal(NewFloat64([]float64{1, 2.5, 0.1, 1e-320, 1e21, -3}, 2, 3))
	if err != nil || string(b) != "[[1,2.5,0.1],[1e-320,1e+21,-3]]" {
		t.Fatalf("float64: %s %v", b, err)
	}
	// float32 elements are widened first: 0.1f is 0.10000000149011612 as a double.
	b, _ = json.Marshal(NewFloat32([]float32{0.1}))
	if string(b) != "[0.10000000149011612]" {
		t.Fatalf("float32: %s", b)
	}
	b, _ = json.Marshal(NewInt64([]int64{1, -100}))
	if string(b) != "[1,-100]" {
		t.Fatalf("int64: %s", b)
	}
	b, _ = json.Marshal(&Tensor{Shape: []int{}, Float64: []float64{4}})
	if string(b) != "4" {
		t.Fatalf("0-d: %s", b)
	}
	if _, err := json.Marshal(NewFloat64([]float64{math.NaN()})); err == nil {
		t.Fatal("NaN marshalled")
	}
	var x Tensor
	if err := json.Unmarshal([]byte(`[[1, null], [3.5, 1e-320]]`), &x); err != nil ||
		!reflect.DeepEqual(x.Shape, []int{2, 2}) || x.Float64[0] != 1 || !math.IsNaN(x.Float64[1]) || x.Float64[3] != 1e-320 {
		t.Fatalf("nested: %+v %v", x, err)
	}
	if err := json.Unmarshal([]byte(`0.25`), &x); err != nil || len(x.Shape) != 0 || x.Scalar() != 0.25 {
		t.Fatalf("scalar: %+v %v", x, err)
	}
	if err := json.Unmarshal([]byte(`[[1, 2], [3]]`), &x); err == nil {
		t.Fatal("ragged read")
	}
	var f Float64s
	if err := json.Unmarshal([]byte(`[1, null]`), &f); err != nil || f[0] != 1 || !math.IsNaN(f[1]) {
		t.Fatalf("Float64s: %v %v", f, err)
	}
}
