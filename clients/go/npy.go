package ballast

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The .npy format (NumPy's), as ballastd reads and writes it: versions 1.0 to 3.0 read,
// 1.0 written with the data aligned to 64 bytes; little-endian, C order; float64 (<f8),
// float32 (<f4) and int64 (<i8) written; those and int32 (<i4, read as Int64) and uint8
// (|u1, read as Int64) read.

var npyMagic = []byte("\x93NUMPY")

// EncodeNpy writes a tensor as a .npy file.
func EncodeNpy(t *Tensor) ([]byte, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	descr, size := "<i8", 8
	switch {
	case t.Float64 != nil:
		descr = "<f8"
	case t.Float32 != nil:
		descr, size = "<f4", 4
	}
	shape := t.Dims()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	shp := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		shp = "(" + dims[0] + ",)"
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shp)
	header += strings.Repeat(" ", (64-(10+len(header)+1)%64)%64) + "\n"
	out := make([]byte, 10+len(header), 10+len(header)+t.Len()*size)
	copy(out, npyMagic)
	out[6], out[7] = 1, 0
	binary.LittleEndian.PutUint16(out[8:], uint16(len(header)))
	copy(out[10:], header)
	var buf [8]byte
	for i := 0; i < t.Len(); i++ {
		switch {
		case t.Float64 != nil:
			binary.LittleEndian.PutUint64(buf[:], math.Float64bits(t.Float64[i]))
		case t.Float32 != nil:
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(t.Float32[i]))
		default:
			binary.LittleEndian.PutUint64(buf[:], uint64(t.Int64[i]))
		}
		out = append(out, buf[:size]...)
	}
	return out, nil
}

var (
	npyDescr   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	npyFortran = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	npyShape   = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// DecodeNpy reads a .npy file into a tensor: <f8 as Float64, <f4 as Float32, <i8, <i4 and
// |u1 as Int64.
func DecodeNpy(b []byte) (*Tensor, error) {
	if len(b) < 10 || string(b[:6]) != string(npyMagic) {
		return nil, fmt.Errorf("ballast: not a .npy file")
	}
	var hlen, start int
	switch b[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return nil, fmt.Errorf("ballast: .npy: truncated header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return nil, fmt.Errorf("ballast: .npy: format version %d", b[6])
	}
	if start+hlen > len(b) {
		return nil, fmt.Errorf("ballast: .npy: truncated header")
	}
	header := string(b[start : start+hlen])
	d, f, s := npyDescr.FindStringSubmatch(header), npyFortran.FindStringSubmatch(header), npyShape.FindStringSubmatch(header)
	if d == nil || f == nil || s == nil {
		return nil, fmt.Errorf("ballast: .npy: bad header %q", header)
	}
	if f[1] != "False" {
		return nil, fmt.Errorf("ballast: .npy: Fortran order is not read")
	}
	shape := []int{}
	n := 1
	for _, p := range strings.Split(s[1], ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("ballast: .npy: bad shape %q", s[1])
		}
		shape = append(shape, v)
		n *= v
	}
	size := map[string]int{"<f8": 8, "<f4": 4, "<i8": 8, "<i4": 4, "|u1": 1}[d[1]]
	if size == 0 {
		return nil, fmt.Errorf("ballast: .npy: dtype %s is not read", d[1])
	}
	data := b[start+hlen:]
	if len(data) != n*size {
		return nil, fmt.Errorf("ballast: .npy: %d data bytes for shape %v of %s", len(data), shape, d[1])
	}
	t := &Tensor{Shape: shape}
	switch d[1] {
	case "<f8":
		t.Float64 = make([]float64, n)
		for i := range t.Float64 {
			t.Float64[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
	case "<f4":
		t.Float32 = make([]float32, n)
		for i := range t.Float32 {
			t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	default:
		t.Int64 = make([]int64, n)
		for i := range t.Int64 {
			switch size {
			case 8:
				t.Int64[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
			case 4:
				t.Int64[i] = int64(int32(binary.LittleEndian.Uint32(data[4*i:])))
			default:
				t.Int64[i] = int64(data[i])
			}
		}
	}
	return t, nil
}
