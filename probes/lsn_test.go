package probes

import (
	"encoding/json"
	"testing"
)

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "39000000028900001", want: "39000000028900001"},
		{in: "0000123", want: "123"},
		{in: "0", want: "0"},
		{in: "18446744073709551617", want: "18446744073709551617"}, // above 2^64
		{in: "9999999999999999999999999", want: "9999999999999999999999999"},
		{in: "123.000", want: "123"},
		{in: " 42 ", want: "42"},
		{in: "", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "1.5", wantErr: true},
		{in: "12a", wantErr: true},
		{in: "1e10", wantErr: true},
		{in: "10000000000000000000000000", wantErr: true}, // 26 digits
	}
	for _, tt := range tests {
		got, err := ParseLSN(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseLSN(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		if err == nil && got.String() != tt.want {
			t.Errorf("ParseLSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLSNCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9223372036854775808", "9223372036854775807", 1}, // across 2^63
		{"18446744073709551616", "18446744073709551615", 1},
		{"100", "99", 1},
		{"99", "100", -1},
		{"39000000028900001", "39000000028900001", 0},
		{"0", "1", -1},
	}
	for _, tt := range tests {
		a, b := MustParseLSN(tt.a), MustParseLSN(tt.b)
		if got := a.Compare(b); got != tt.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := b.Compare(a); got != -tt.want {
			t.Errorf("%s.Compare(%s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
	if !(LSN{}).Less(MustParseLSN("0")) {
		t.Error("absent LSN must sort before LSN 0")
	}
}

func TestLSNAndGUIDJSONRoundTrip(t *testing.T) {
	type rec struct {
		L LSN
		N LSN
		G GUID
		Z GUID
	}
	g, err := ParseGUID("{6f9619ff-8b86-d011-b42d-00c04fc964ff}")
	if err != nil {
		t.Fatal(err)
	}
	in := rec{L: MustParseLSN("123456789012345678901234"), G: g}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"L":"123456789012345678901234","N":"","G":"6F9619FF-8B86-D011-B42D-00C04FC964FF","Z":""}`
	if string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var out rec
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
	for _, bad := range []string{"", "6F9619FF8B86D011B42D00C04FC964FF", "6F9619FF-8B86-D011-B42D-00C04FC964FG"} {
		if _, err := ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) succeeded, want error", bad)
		}
	}
}
