package journal

import (
	"errors"
	"testing"
)

// FuzzParseJournal: no input makes the journal parser panic; anything it
// accepts has gap-free sequence numbers, and anything it refuses is an
// IntegrityError (torn tail or corruption) naming a line.
func FuzzParseJournal(f *testing.F) {
	good := `{"len":79,"crc":"00000000","rec":{"seq":1,"at":"2026-11-28T12:00:00Z","kind":"k","data":{"step":1,"state":""}}}` + "\n"
	for _, s := range []string{"", "\n", good, good[:40], "{}\n", `{"len":2,"crc":"x","rec":{}}` + "\n", "not json\n{}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := parseJournal("journal.jsonl", data)
		if err != nil {
			var ie *IntegrityError
			if !errors.As(err, &ie) || ie.Line < 1 || (!errors.Is(err, ErrTornTail) && !errors.Is(err, ErrCorrupt)) {
				t.Fatalf("error %v is not an IntegrityError naming a line", err)
			}
			return
		}
		for i, r := range recs {
			if r.Seq != uint64(i)+1 {
				t.Fatalf("record %d has seq %d", i, r.Seq)
			}
		}
	})
}
