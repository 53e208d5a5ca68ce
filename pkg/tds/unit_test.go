package tds

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"testing"
	"time"

	"go.uber.org/zap"
)

// newTestWriter returns a writer whose reply goes to buf, for token-level tests.
func newTestWriter(t *testing.T, kind requestKind, call *RPCCall) (*ResultWriter, *bytes.Buffer) {
	t.Helper()
	srv, err := NewServer(zap.NewNop(), newTestHandler(), Options{ServerName: "S"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	buf := &bytes.Buffer{}
	c := &conn{srv: srv, pw: newPacketWriter(buf, 4096, 51)}
	c.pw.begin(packetReply)
	return newResultWriter(context.Background(), c, kind, call), buf
}

// payload strips packet headers from a written reply.
func payload(t *testing.T, raw []byte) []byte {
	t.Helper()
	m, err := readMessage(bytes.NewReader(raw), maxPacketSize, 1<<24)
	if err != nil {
		t.Fatal(err)
	}
	return m.data
}

func TestDoneMoreDiscipline(t *testing.T) {
	t.Run("batch", func(t *testing.T) {
		w, buf := newTestWriter(t, kindBatch, nil)
		must(t, w.Columns(Column{Name: "a", Type: Int()}))
		must(t, w.Row(1))
		must(t, w.Row(2))
		must(t, w.Done())
		must(t, w.Message(&Error{Number: 208, State: 1, Class: 16, Message: "x"}))
		must(t, w.Done())
		must(t, w.DoneCount(CmdUpdate, 3))
		must(t, w.finish(nil, false, false))
		var want []byte
		want = appendColMetadata(want, []Column{{Name: "a", Type: Int()}})
		want = append(want, tokenRow, 4, 1, 0, 0, 0, tokenRow, 4, 2, 0, 0, 0)
		want = appendDone(want, tokenDone, doneMore|doneCount, CmdSelect, 2)
		want = appendMessage(want, &Error{Number: 208, State: 1, Class: 16, Message: "x"}, "S")
		want = appendDone(want, tokenDone, doneMore|doneError, 0, 0)
		want = appendDone(want, tokenDone, doneCount, CmdUpdate, 3)
		if got := payload(t, buf.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("reply\n got % X\nwant % X", got, want)
		}
	})
	t.Run("rpc", func(t *testing.T) {
		w, buf := newTestWriter(t, kindRPC, &RPCCall{Params: []Param{{Name: "@o", Output: true}}})
		must(t, w.Columns(Column{Type: TinyInt()}))
		must(t, w.Row(7))
		must(t, w.ReturnStatus(3))
		must(t, w.OutputParam("@o", Int(), 5))
		must(t, w.finish(nil, false, false))
		var want []byte
		want = appendColMetadata(want, []Column{{Type: TinyInt()}})
		want = append(want, tokenRow, 1, 7)
		want = appendDone(want, tokenDoneInProc, doneMore|doneCount, CmdSelect, 1)
		want = append(want, tokenReturnStatus, 3, 0, 0, 0)
		want, _ = appendReturnValue(want, 0, "@o", Int(), 5)
		want = appendDone(want, tokenDoneProc, 0, CmdExecute, 0)
		if got := payload(t, buf.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("reply\n got % X\nwant % X", got, want)
		}
	})
	t.Run("exec in batch, then attention", func(t *testing.T) {
		w, buf := newTestWriter(t, kindBatch, nil)
		must(t, w.BeginProc())
		must(t, w.DoneCount(CmdInsert, 1))
		must(t, w.EndProc(1))
		must(t, w.finish(nil, true, false))
		var want []byte
		want = appendDone(want, tokenDoneInProc, doneMore|doneCount, CmdInsert, 1)
		want = append(want, tokenReturnStatus, 1, 0, 0, 0)
		want = appendDone(want, tokenDoneProc, doneMore, CmdExecute, 0)
		want = appendDone(want, tokenDone, doneAttn, 0, 0)
		if got := payload(t, buf.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("reply\n got % X\nwant % X", got, want)
		}
	})
	t.Run("proc block inside an RPC", func(t *testing.T) {
		w, buf := newTestWriter(t, kindRPC, &RPCCall{})
		must(t, w.BeginProc())
		must(t, w.Message(&Error{Number: 14262, Class: 16}))
		must(t, w.EndProc(1))
		must(t, w.finish(nil, false, false))
		var want []byte
		want = appendMessage(want, &Error{Number: 14262, Class: 16}, "S")
		want = appendDone(want, tokenDoneInProc, doneMore|doneError, 0, 0)
		want = append(want, tokenReturnStatus, 1, 0, 0, 0)
		want = appendDone(want, tokenDoneProc, doneError, CmdExecute, 0)
		if got := payload(t, buf.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("reply\n got % X\nwant % X", got, want)
		}
	})
	t.Run("returned errors end the batch with DONE_ERROR", func(t *testing.T) {
		w, buf := newTestWriter(t, kindBatch, nil)
		must(t, w.Done())
		must(t, w.finish([]*Error{{Number: 4305, Class: 16}, {Number: 3013, Class: 16}}, false, false))
		var want []byte
		want = appendDone(want, tokenDone, doneMore, 0, 0)
		want = appendMessage(want, &Error{Number: 4305, Class: 16}, "S")
		want = appendMessage(want, &Error{Number: 3013, Class: 16}, "S")
		want = appendDone(want, tokenDone, doneError, 0, 0)
		if got := payload(t, buf.Bytes()); !bytes.Equal(got, want) {
			t.Fatalf("reply\n got % X\nwant % X", got, want)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWriterMisuse(t *testing.T) {
	w, buf := newTestWriter(t, kindBatch, nil)
	if err := w.Row(1); !errors.Is(err, ErrMisuse) {
		t.Errorf("Row without Columns: %v", err)
	}
	if err := w.Columns(); !errors.Is(err, ErrMisuse) {
		t.Errorf("Columns(): %v", err)
	}
	if err := w.Columns(Column{Type: NVarChar(5000)}); !errors.Is(err, ErrMisuse) {
		t.Errorf("nvarchar(5000): %v", err)
	}
	if err := w.Columns(Column{Type: Type{}}); !errors.Is(err, ErrMisuse) {
		t.Errorf("zero Type: %v", err)
	}
	if err := w.EndProc(0); !errors.Is(err, ErrMisuse) {
		t.Errorf("EndProc without BeginProc: %v", err)
	}
	if err := w.ReturnStatus(1); !errors.Is(err, ErrMisuse) {
		t.Errorf("ReturnStatus in a batch: %v", err)
	}
	if err := w.EndTransaction(true); !errors.Is(err, ErrMisuse) {
		t.Errorf("EndTransaction without a transaction: %v", err)
	}
	must(t, w.Columns(Column{Name: "a", Type: Int(), NotNull: true}, Column{Name: "b", Type: NVarChar(3)}))
	if err := w.Columns(Column{Type: Int()}); !errors.Is(err, ErrMisuse) {
		t.Errorf("Columns twice: %v", err)
	}
	if err := w.Row(1); !errors.Is(err, ErrMisuse) {
		t.Errorf("short row: %v", err)
	}
	if err := w.DoneCount(CmdUpdate, 1); !errors.Is(err, ErrMisuse) {
		t.Errorf("DoneCount with an open result set: %v", err)
	}
	before := len(buf.Bytes()) + len(w.c.pw.buf)
	for _, row := range [][]any{{nil, "x"}, {1, "abcd"}, {int64(math.MaxInt32) + 1, "x"}, {"1", "x"}} {
		if err := w.Row(row...); err == nil {
			t.Errorf("row %v accepted", row)
		}
	}
	if after := len(buf.Bytes()) + len(w.c.pw.buf); after != before {
		t.Errorf("rejected rows wrote %d bytes", after-before)
	}
	if w.rows != 0 {
		t.Errorf("rejected rows counted: %d", w.rows)
	}
	ow, _ := newTestWriter(t, kindRPC, &RPCCall{Params: []Param{{Name: "@in"}}})
	if err := ow.OutputParam("@in", Int(), 1); !errors.Is(err, ErrMisuse) {
		t.Errorf("OutputParam for an input parameter: %v", err)
	}
	cw, _ := newTestWriter(t, kindBatch, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cw.ctx = ctx
	cancel()
	if err := cw.Columns(Column{Type: Int()}); !errors.Is(err, context.Canceled) {
		t.Errorf("write after cancel: %v", err)
	}
}

func TestValueRejection(t *testing.T) {
	cases := []struct {
		t Type
		v any
	}{
		{TinyInt(), 256}, {TinyInt(), -1}, {SmallInt(), 40000}, {Int(), int64(1) << 40}, {BigInt(), uint64(math.MaxUint64)},
		{Bit(), "yes"}, {Float(), math.NaN()}, {Float(), math.Inf(1)}, {Real(), 1e300}, {NVarChar(2), "abc"},
		{NVarChar(2), 5}, {Char(2), "abc"}, {VarBinary(2), []byte{1, 2, 3}}, {VarBinary(2), "ab"},
		{DateTime(), time.Date(1752, 12, 31, 0, 0, 0, 0, time.UTC)}, {DateTime(), "2020-01-01"},
		{DateTime2(7), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, {UniqueIdentifier(), "not-a-guid"},
		{UniqueIdentifier(), 5}, {Numeric(25, 0), "12345678901234567890123456"}, {Numeric(5, 2), "1.234"},
		{Numeric(5, 2), "1234.5"}, {Numeric(10, 0), 1.5}, {Date(), 1},
	}
	for _, tc := range cases {
		if b, err := appendValue(nil, tc.t, tc.v); err == nil {
			t.Errorf("%s accepted %#v as % X", tc.t.Name(), tc.v, b)
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	lsn, _ := new(big.Int).SetString("99999999999999999999999999999999999999", 10)
	cases := []struct {
		t    Type
		in   any
		want string
	}{
		{TinyInt(), uint8(200), "200"}, {SmallInt(), int16(-5), "-5"}, {Int(), -7, "-7"}, {BigInt(), int64(math.MinInt64), "-9223372036854775808"},
		{Bit(), false, "false"}, {Float(), -0.25, "-0.25"}, {Real(), float32(0.5), "0.5"},
		{NVarChar(10), "𝄞é", "𝄞é"}, {NVarCharMax(), "", ""}, {Char(3), "a", "a  "},
		{VarBinaryMax(), []byte("xyz"), "[120 121 122]"}, {VarBinary(4), []byte{}, "[]"},
		{UniqueIdentifier(), testGUID, "6F9619FF-8B86-D011-B42D-00C04FC964FF"},
		{Numeric(38, 0), lsn, lsn.String()}, {Numeric(9, 3), "-1.5", "-1.500"}, {Numeric(19, 2), int64(12), "12.00"},
		{Numeric(25, 0), "0", "0"},
		// datetime: 1/300 s ticks, rounded to .000/.003/.007, carrying into the next day.
		{DateTime(), time.Date(2020, 1, 1, 0, 0, 0, 1e6, time.UTC), "2020-01-01T00:00:00Z"},
		{DateTime(), time.Date(2020, 1, 1, 0, 0, 0, 2e6, time.UTC), "2020-01-01T00:00:00.003Z"},
		{DateTime(), time.Date(2020, 1, 1, 0, 0, 0, 5e6, time.UTC), "2020-01-01T00:00:00.007Z"},
		{DateTime(), time.Date(2020, 12, 31, 23, 59, 59, 999e6, time.UTC), "2021-01-01T00:00:00Z"},
		{DateTime(), time.Date(1753, 1, 1, 0, 0, 0, 0, time.UTC), "1753-01-01T00:00:00Z"},
		{DateTime(), time.Date(2020, 6, 1, 12, 0, 0, 0, time.FixedZone("", 3600)), "2020-06-01T12:00:00Z"}, // wall clock kept
		{DateTime2(0), time.Date(2020, 1, 1, 12, 0, 0, 5e8, time.UTC), "2020-01-01T12:00:01Z"},
		{DateTime2(6), time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), "9999-12-31T23:59:59.999999Z"},
		{DateTime2(3), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01-01T00:00:00Z"},
		{DateTime2(7), time.Date(2262, 4, 12, 0, 0, 0, 100, time.UTC), "2262-04-12T00:00:00.0000001Z"},
		{DateTimeOffset(7), testDTO, testDTO.Format(time.RFC3339Nano)},
		{Date(), time.Date(2024, 2, 29, 23, 0, 0, 0, time.UTC), "2024-02-29T00:00:00Z"},
	}
	for _, tc := range cases {
		b, err := appendValue(nil, tc.t, tc.in)
		if err != nil {
			t.Errorf("%s %v: %v", tc.t.Name(), tc.in, err)
			continue
		}
		info := appendTypeInfo(nil, tc.t)
		r := &reader{b: append(info, b...)}
		typ := readTypeInfo(r)
		v, err := readValue(r, typ)
		if err != nil || r.remaining() != 0 {
			t.Errorf("%s %v: decode %v, %d bytes left", tc.t.Name(), tc.in, err, r.remaining())
			continue
		}
		var got string
		switch x := v.(type) {
		case time.Time:
			got = x.Format(time.RFC3339Nano)
		case Decimal:
			got = x.String()
		case UUID:
			got = x.String()
		case int64:
			got = big.NewInt(x).String()
		default:
			got = fmt.Sprint(x)
		}
		if got != tc.want {
			t.Errorf("%s %v: round trip %q, want %q", tc.t.Name(), tc.in, got, tc.want)
		}
		// NULL of the same type round-trips too.
		nb, _ := appendValue(nil, tc.t, nil)
		nr := &reader{b: nb}
		if nv, err := readValue(nr, typ); err != nil || nv != nil || nr.remaining() != 0 {
			t.Errorf("%s NULL: %v %v", tc.t.Name(), nv, err)
		}
	}
}

func TestUUIDWireOrder(t *testing.T) {
	b, err := appendValue(nil, UniqueIdentifier(), "6F9619FF-8B86-D011-B42D-00C04FC964FF")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{16, 0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	if !bytes.Equal(b, want) {
		t.Fatalf("wire bytes % X", b)
	}
	if _, err := ParseUUID("{6F9619FF-8B86-D011-B42D-00C04FC964FF}"); err != nil {
		t.Fatal(err)
	}
}

func TestParseDecimal(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "-0.50": "-0.50", ".5": "0.5", "+12.": "12", "007": "7"} {
		d, err := ParseDecimal(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDecimal(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "-", ".", "1e5", "1.2.3", "abc"} {
		if _, err := ParseDecimal(in); err == nil {
			t.Errorf("ParseDecimal(%q) accepted", in)
		}
	}
}

func TestPacketWriterSplits(t *testing.T) {
	var buf bytes.Buffer
	p := newPacketWriter(&buf, 512, 77)
	p.begin(packetReply)
	data := bytes.Repeat([]byte{0xAB}, 2000)
	must(t, p.write(data[:100]))
	must(t, p.write(data[100:]))
	must(t, p.end())
	raw := buf.Bytes()
	var got []byte
	var statuses []byte
	for id := byte(1); len(raw) > 0; id++ {
		n := int(binary.BigEndian.Uint16(raw[2:]))
		if n > 512 || raw[0] != packetReply || binary.BigEndian.Uint16(raw[4:]) != 77 || raw[6] != id {
			t.Fatalf("packet %d header % X", id, raw[:8])
		}
		statuses = append(statuses, raw[1])
		got = append(got, raw[8:n]...)
		raw = raw[n:]
	}
	if !bytes.Equal(got, data) {
		t.Fatal("payload mismatch")
	}
	if !bytes.Equal(statuses, []byte{0, 0, 0, 1}) {
		t.Fatalf("statuses % X", statuses)
	}
	// An exactly full final packet is still sent once, with EOM.
	buf.Reset()
	p.begin(packetReply)
	must(t, p.write(make([]byte, 504)))
	must(t, p.end())
	if buf.Len() != 512 || buf.Bytes()[1] != statusEOM {
		t.Fatalf("full final packet: %d bytes, status %d", buf.Len(), buf.Bytes()[1])
	}
}

func TestReadMessage(t *testing.T) {
	pkt := func(typ, status byte, payload ...byte) []byte {
		b := []byte{typ, status, 0, byte(8 + len(payload)), 0, 0, 1, 0}
		return append(b, payload...)
	}
	two := append(pkt(packetSQLBatch, statusResetConn, 1, 2), pkt(packetSQLBatch, statusEOM, 3)...)
	m, err := readMessage(bytes.NewReader(two), 512, 100)
	if err != nil || !bytes.Equal(m.data, []byte{1, 2, 3}) || m.status != statusResetConn || m.typ != packetSQLBatch {
		t.Fatalf("reassembly: %+v %v", m, err)
	}
	bad := []struct {
		name string
		in   []byte
	}{
		{"tls", []byte{0x16, 3, 1}},
		{"short length", []byte{1, 1, 0, 7, 0, 0, 0, 0}},
		{"too long for packet size", []byte{1, 1, 2, 1, 0, 0, 0, 0}},
		{"over limit", append(pkt(1, 0, make([]byte, 60)...), pkt(1, 1, make([]byte, 60)...)...)},
		{"truncated", pkt(1, 1, 1, 2, 3)[:9]},
		{"no EOM", pkt(1, 0, 1)},
	}
	for _, tc := range bad {
		if _, err := readMessage(bytes.NewReader(tc.in), 512, 100); err == nil || errors.Is(err, io.EOF) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := readMessage(bytes.NewReader(nil), 512, 100); !errors.Is(err, io.EOF) {
		t.Errorf("empty input: %v", err)
	}
}

func TestExecuteSQL(t *testing.T) {
	call := &RPCCall{ProcID: ProcIDExecuteSQL, ProcName: "sp_executesql", Params: []Param{
		{Value: "select @p1"}, {Value: "@p1 int"}, {Name: "@p1", Value: int64(1)},
	}}
	stmt, decl, params, ok := call.ExecuteSQL()
	if !ok || stmt != "select @p1" || decl != "@p1 int" || len(params) != 1 || params[0].Name != "@p1" {
		t.Fatalf("ExecuteSQL = %q %q %v %v", stmt, decl, params, ok)
	}
	if _, _, _, ok := (&RPCCall{ProcName: "dbo.x"}).ExecuteSQL(); ok {
		t.Fatal("dbo.x treated as sp_executesql")
	}
	if _, _, _, ok := (&RPCCall{ProcName: "SP_EXECUTESQL", Params: []Param{{Value: int64(1)}}}).ExecuteSQL(); ok {
		t.Fatal("non-string statement accepted")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{DefaultPacketSize: 100}, {DefaultPacketSize: 40000}, {MaxMessageSize: 10}, {LoginTimeout: -1}} {
		if _, err := NewServer(zap.NewNop(), newTestHandler(), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	if _, err := NewServer(zap.NewNop(), nil, Options{}); err == nil {
		t.Error("nil handler accepted")
	}
}
