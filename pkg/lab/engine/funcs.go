package engine

import (
	"crypto/rand"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

var aggregates = map[string]bool{"COUNT": true, "COUNT_BIG": true, "MIN": true, "MAX": true, "SUM": true, "AVG": true}

func (c *compiler) args(f *FuncCall, from int) ([]*cexpr, error) {
	out := make([]*cexpr, 0, len(f.Args))
	for _, a := range f.Args[from:] {
		x, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// argsAtMost compiles f's arguments and refuses more than max of them (error 174).
func (c *compiler) argsAtMost(f *FuncCall, max int) ([]*cexpr, error) {
	if len(f.Args) > max {
		return nil, ErrArgCount(f.Name, max)
	}
	return c.args(f, 0)
}

func needArgs(f *FuncCall, n int) error {
	if len(f.Args) != n || f.Star {
		return ErrArgCount(f.Name, n)
	}
	return nil
}

// scalar builds a function expression that evaluates its arguments and, when nullIn is true,
// returns NULL as soon as one is NULL.
func scalar(t Type, args []*cexpr, nullIn bool, f func(en *env, vs []Value) (Value, error)) *cexpr {
	return &cexpr{t: t, eval: func(en *env) (Value, error) {
		vs := make([]Value, len(args))
		for i, a := range args {
			v, err := a.eval(en)
			if err != nil {
				return Value{}, err
			}
			if v.Null && nullIn {
				return Null(t), nil
			}
			vs[i] = v
		}
		return f(en, vs)
	}}
}

func (c *compiler) function(f *FuncCall) (*cexpr, error) {
	if f.Over != nil {
		return c.window(f)
	}
	if aggregates[f.Name] {
		return c.aggregate(f)
	}
	if f.Distinct || (f.Star && f.Name != "COUNT") {
		return nil, ErrSyntax("*")
	}
	st := c.st
	sess := st.sess
	switch f.Name {
	case "GETDATE", "GETUTCDATE", "SYSDATETIME", "SYSUTCDATETIME", "SYSDATETIMEOFFSET", "CURRENT_TIMESTAMP":
		if err := needArgs(f, 0); err != nil {
			return nil, err
		}
		name := f.Name
		t := map[string]Type{"GETDATE": TypeDateTime, "GETUTCDATE": TypeDateTime, "CURRENT_TIMESTAMP": TypeDateTime,
			"SYSDATETIME": DateTime2(7), "SYSUTCDATETIME": DateTime2(7), "SYSDATETIMEOFFSET": DateTimeOffset(7)}[name]
		return &cexpr{t: t, eval: func(*env) (Value, error) {
			now := st.server.Now
			switch name {
			case "GETDATE", "CURRENT_TIMESTAMP":
				return DateTime(now), nil
			case "GETUTCDATE":
				return DateTime(now.UTC()), nil
			case "SYSDATETIME":
				return DateTime2Value(7, now), nil
			case "SYSUTCDATETIME":
				return DateTime2Value(7, now.UTC()), nil
			}
			return DateTimeOffsetValue(now), nil
		}}, nil
	case "SERVERPROPERTY":
		if err := needArgs(f, 1); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		// sql_variant is not supported; the lab returns nvarchar(128) (docs/lab.md).
		return scalar(TypeSysname, args, true, func(_ *env, vs []Value) (Value, error) {
			name := vs[0].Text()
			for k, v := range st.server.Properties {
				if strings.EqualFold(k, name) {
					if v.Null {
						return Null(TypeSysname), nil
					}
					return Sysname(v.Text()), nil
				}
			}
			switch strings.ToLower(name) {
			case "servername":
				return Sysname(st.server.Name), nil
			case "collation":
				return Sysname("SQL_Latin1_General_CP1_CI_AS"), nil
			}
			return Null(TypeSysname), nil
		}), nil
	case "DB_ID":
		args, err := c.argsAtMost(f, 1)
		if err != nil {
			return nil, err
		}
		return scalar(TypeInt, args, true, func(_ *env, vs []Value) (Value, error) {
			name := sess.info.Database
			if len(vs) == 1 {
				name = vs[0].Text()
			}
			if db := st.findDB(name); db != nil {
				return Int(int32(db.ID)), nil
			}
			return Null(TypeInt), nil
		}), nil
	case "DB_NAME":
		args, err := c.argsAtMost(f, 1)
		if err != nil {
			return nil, err
		}
		return scalar(TypeSysname, args, true, func(_ *env, vs []Value) (Value, error) {
			if len(vs) == 0 {
				if db := st.findDB(sess.info.Database); db != nil {
					return Sysname(db.Name), nil
				}
				return Sysname(sess.info.Database), nil
			}
			id, err := Convert(vs[0], TypeInt)
			if err != nil {
				return Value{}, err
			}
			for _, db := range st.dbs {
				if int64(db.ID) == id.i {
					return Sysname(db.Name), nil
				}
			}
			return Null(TypeSysname), nil
		}), nil
	case "DATABASEPROPERTYEX":
		if err := needArgs(f, 2); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		return scalar(TypeSysname, args, true, func(_ *env, vs []Value) (Value, error) {
			db := st.findDB(vs[0].Text())
			if db == nil {
				return Null(TypeSysname), nil
			}
			return databaseProperty(db, vs[1].Text()), nil
		}), nil
	case "OBJECT_ID":
		if len(f.Args) < 1 || len(f.Args) > 2 {
			return nil, ErrArgCount(f.Name, 1)
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		return scalar(TypeInt, args, true, func(_ *env, vs []Value) (Value, error) {
			// A malformed name, an unknown object or a database that cannot be opened all give NULL.
			name, perr := ParseObjectName(vs[0].Text())
			if perr == nil {
				if _, ref, terr := st.table(name); terr == nil {
					return Int(objectID(ref)), nil
				}
			}
			return Null(TypeInt), nil
		}), nil
	case "SUSER_SNAME", "SUSER_NAME", "ORIGINAL_LOGIN":
		return &cexpr{t: TypeSysname, eval: func(*env) (Value, error) { return Sysname(sess.info.Login), nil }}, nil
	case "USER_NAME":
		return &cexpr{t: TypeSysname, eval: func(*env) (Value, error) {
			if sess.info.Sysadmin {
				return Sysname("dbo"), nil
			}
			return Sysname(sess.info.Login), nil
		}}, nil
	case "HOST_NAME":
		return &cexpr{t: TypeSysname, eval: func(*env) (Value, error) { return Sysname(sess.info.HostName), nil }}, nil
	case "APP_NAME":
		return &cexpr{t: TypeSysname, eval: func(*env) (Value, error) { return Sysname(sess.info.AppName), nil }}, nil
	case "IS_SRVROLEMEMBER":
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		if len(args) < 1 || len(args) > 2 {
			return nil, ErrArgCount(f.Name, 1)
		}
		return scalar(TypeInt, args, true, func(_ *env, vs []Value) (Value, error) {
			switch strings.ToLower(vs[0].Text()) {
			case "sysadmin":
				if sess.info.Sysadmin {
					return Int(1), nil
				}
				return Int(0), nil
			case "dbcreator", "serveradmin", "securityadmin", "processadmin", "setupadmin", "bulkadmin", "diskadmin", "public":
				return Int(0), nil
			}
			return Null(TypeInt), nil
		}), nil
	case "NEWID":
		return &cexpr{t: TypeUniqueIdentifier, eval: func(*env) (Value, error) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			b[6] = b[6]&0x0f | 0x40
			b[8] = b[8]&0x3f | 0x80
			return GUID(b), nil
		}}, nil
	case "IIF":
		if len(f.Args) != 3 {
			return nil, ErrArgCount(f.Name, 3)
		}
		return c.compile(&Case{Whens: []When{{Cond: f.Args[0], Result: f.Args[1]}}, Else: f.Args[2]})
	case "ISNULL":
		if err := needArgs(f, 2); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := args[0].t
		if t.Kind == KindUnknown {
			t = args[1].t
		}
		if !compatible(args[0].t, args[1].t) {
			return nil, ErrOperandClash(args[1].t, args[0].t)
		}
		return scalar(t, args, false, func(_ *env, vs []Value) (Value, error) {
			if !vs[0].Null {
				return Convert(vs[0], t)
			}
			return Convert(vs[1], t)
		}), nil
	case "COALESCE":
		if len(f.Args) < 2 {
			return nil, NewError(189, 15, 1, "The coalesce function requires 2 to 2147483647 arguments.")
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		var t Type
		for _, a := range args {
			if !compatible(t, a.t) {
				return nil, ErrOperandClash(t, a.t)
			}
			t = commonType(t, a.t)
		}
		return &cexpr{t: t, eval: func(en *env) (Value, error) {
			for _, a := range args {
				v, err := a.eval(en)
				if err != nil {
					return Value{}, err
				}
				if !v.Null {
					return Convert(v, t)
				}
			}
			return Null(t), nil
		}}, nil
	case "NULLIF":
		if err := needArgs(f, 2); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := args[0].t
		return scalar(t, args, false, func(_ *env, vs []Value) (Value, error) {
			if vs[0].Null || vs[1].Null {
				return vs[0], nil
			}
			n, err := Compare(vs[0], vs[1])
			if err != nil {
				return Value{}, err
			}
			if n == 0 {
				return Null(t), nil
			}
			return vs[0], nil
		}), nil
	case "DATEDIFF", "DATEDIFF_BIG":
		if err := needArgs(f, 3); err != nil {
			return nil, err
		}
		part, err := datePartArg(f, "datediff")
		if err != nil {
			return nil, err
		}
		args, err := c.args(f, 1)
		if err != nil {
			return nil, err
		}
		big := f.Name == "DATEDIFF_BIG"
		t := TypeInt
		if big {
			t = TypeBigInt
		}
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			a, err := timeOf(vs[0])
			if err != nil {
				return Value{}, err
			}
			b, err := timeOf(vs[1])
			if err != nil {
				return Value{}, err
			}
			n, err := dateDiff(part, a, b)
			if err != nil {
				return Value{}, err
			}
			if big {
				return BigInt(n), nil
			}
			if n > math.MaxInt32 || n < math.MinInt32 {
				return Value{}, ErrDateDiffOverflow()
			}
			return Int(int32(n)), nil
		}), nil
	case "DATEADD":
		if err := needArgs(f, 3); err != nil {
			return nil, err
		}
		part, err := datePartArg(f, "dateadd")
		if err != nil {
			return nil, err
		}
		args, err := c.args(f, 1)
		if err != nil {
			return nil, err
		}
		t := args[1].t
		if !t.IsTime() {
			t = TypeDateTime
		}
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			nv, err := Convert(vs[0], TypeBigInt)
			if err != nil {
				return Value{}, err
			}
			d, err := Convert(vs[1], t)
			if err != nil {
				return Value{}, err
			}
			r, err := dateAdd(part, nv.i, d.t)
			if err != nil {
				return Value{}, err
			}
			out := d
			switch t.Kind {
			case KindDate:
				out = Date(r)
			case KindDateTime:
				out.t = roundDateTime(r)
				if out.t.Before(minDateTime) || out.t.After(maxDateTime) {
					return Value{}, NewError(517, 16, 1, "Adding a value to a 'datetime' column caused an overflow.")
				}
			default:
				out.t = roundScale(r, t.Scale)
			}
			return out, nil
		}), nil
	case "DATEPART", "YEAR", "MONTH", "DAY":
		var part string
		from := 0
		if f.Name == "DATEPART" {
			if err := needArgs(f, 2); err != nil {
				return nil, err
			}
			p, err := datePartArg(f, "datepart")
			if err != nil {
				return nil, err
			}
			part, from = p, 1
		} else {
			if err := needArgs(f, 1); err != nil {
				return nil, err
			}
			part = strings.ToLower(f.Name)
		}
		args, err := c.args(f, from)
		if err != nil {
			return nil, err
		}
		return scalar(TypeInt, args, true, func(_ *env, vs []Value) (Value, error) {
			t, err := timeOf(vs[0])
			if err != nil {
				return Value{}, err
			}
			return Int(int32(datePart(part, t))), nil
		}), nil
	case "LEN", "UPPER", "LOWER", "LTRIM", "RTRIM", "TRIM", "REVERSE":
		if err := needArgs(f, 1); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := args[0].t
		if !t.IsString() {
			t = NVarChar(128)
		}
		if f.Name == "LEN" {
			return scalar(TypeInt, args, true, func(_ *env, vs []Value) (Value, error) {
				return Int(int32(utf8.RuneCountInString(strings.TrimRight(vs[0].Text(), " ")))), nil
			}), nil
		}
		name := f.Name
		if t.Kind == KindChar {
			t.Kind = KindVarChar
		}
		if t.Kind == KindNChar {
			t.Kind = KindNVarChar
		}
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			s := vs[0].Text()
			switch name {
			case "UPPER":
				s = strings.ToUpper(s)
			case "LOWER":
				s = strings.ToLower(s)
			case "LTRIM":
				s = strings.TrimLeft(s, " ")
			case "RTRIM":
				s = strings.TrimRight(s, " ")
			case "TRIM":
				s = strings.Trim(s, " ")
			case "REVERSE":
				r := []rune(s)
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				s = string(r)
			}
			return String(t, s), nil
		}), nil
	case "SUBSTRING", "LEFT", "RIGHT":
		n := 3
		if f.Name != "SUBSTRING" {
			n = 2
		}
		if err := needArgs(f, n); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := args[0].t
		if !t.IsString() {
			t = VarChar(8000)
		}
		if t.Kind == KindChar {
			t.Kind = KindVarChar
		}
		if t.Kind == KindNChar {
			t.Kind = KindNVarChar
		}
		name := f.Name
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			r := []rune(vs[0].Text())
			a, err := Convert(vs[1], TypeBigInt)
			if err != nil {
				return Value{}, err
			}
			var start, length int64
			switch name {
			case "SUBSTRING":
				l, err := Convert(vs[2], TypeBigInt)
				if err != nil {
					return Value{}, err
				}
				start, length = a.i, l.i
			case "LEFT":
				start, length = 1, a.i
			default:
				start, length = int64(len(r))-a.i+1, a.i
			}
			if length < 0 {
				return Value{}, NewError(537, 16, 3, "Invalid length parameter passed to the %s function.", strings.ToLower(name))
			}
			end := start + length
			if start < 1 {
				start = 1
			}
			if end > int64(len(r))+1 {
				end = int64(len(r)) + 1
			}
			if end <= start {
				return String(t, ""), nil
			}
			return String(t, string(r[start-1:end-1])), nil
		}), nil
	case "REPLICATE":
		if err := needArgs(f, 2); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := args[0].t
		if !t.IsString() {
			t = VarChar(8000)
		}
		t.Length = MaxLength
		if t.Kind == KindChar {
			t.Kind = KindVarChar
		}
		if t.Kind == KindNChar {
			t.Kind = KindNVarChar
		}
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			n, err := Convert(vs[1], TypeBigInt)
			if err != nil {
				return Value{}, err
			}
			if n.i < 0 {
				return Null(t), nil
			}
			s := vs[0].Text()
			if int64(len(s))*n.i > 1<<20 {
				return Value{}, NewError(50000, 16, 1, "The lab refuses REPLICATE results longer than 1 MiB.")
			}
			return String(t, strings.Repeat(s, int(n.i))), nil
		}), nil
	case "STUFF":
		if err := needArgs(f, 4); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := NVarChar(4000)
		if args[0].t.IsString() && (args[0].t.Kind == KindVarChar || args[0].t.Kind == KindChar) {
			t = VarChar(8000)
		}
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			r := []rune(vs[0].Text())
			st, err := Convert(vs[1], TypeBigInt)
			if err != nil {
				return Value{}, err
			}
			ln, err := Convert(vs[2], TypeBigInt)
			if err != nil {
				return Value{}, err
			}
			// STUFF returns NULL for a start outside the string or a negative length (sql-docs stuff-transact-sql.md)
			if st.i < 1 || st.i > int64(len(r)) || ln.i < 0 {
				return Null(t), nil
			}
			end := min(st.i-1+ln.i, int64(len(r)))
			return String(t, string(r[:st.i-1])+vs[3].Text()+string(r[end:])), nil
		}), nil
	case "CHARINDEX":
		if len(f.Args) != 2 && len(f.Args) != 3 {
			return nil, ErrArgCount(f.Name, 2)
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		return scalar(TypeInt, args, true, func(_ *env, vs []Value) (Value, error) {
			hay := []rune(strings.ToLower(vs[1].Text()))
			needle := []rune(strings.ToLower(vs[0].Text()))
			from := 0
			if len(vs) == 3 {
				s, err := Convert(vs[2], TypeInt)
				if err != nil {
					return Value{}, err
				}
				from = int(max(s.i-1, 0))
			}
			for i := from; i+len(needle) <= len(hay); i++ {
				if string(hay[i:i+len(needle)]) == string(needle) {
					return Int(int32(i + 1)), nil
				}
			}
			return Int(0), nil
		}), nil
	case "REPLACE":
		if err := needArgs(f, 3); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := NVarChar(4000)
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			return String(t, replaceFold(vs[0].Text(), vs[1].Text(), vs[2].Text())), nil
		}), nil
	case "CONCAT":
		if len(f.Args) < 2 {
			return nil, NewError(189, 15, 1, "The concat function requires 2 to 254 arguments.")
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := NVarChar(4000)
		return scalar(t, args, false, func(_ *env, vs []Value) (Value, error) {
			var b strings.Builder
			for _, v := range vs {
				if !v.Null {
					b.WriteString(v.Text())
				}
			}
			return String(t, b.String()), nil
		}), nil
	case "ABS":
		if err := needArgs(f, 1); err != nil {
			return nil, err
		}
		args, err := c.args(f, 0)
		if err != nil {
			return nil, err
		}
		t := args[0].t
		return scalar(t, args, true, func(_ *env, vs []Value) (Value, error) {
			n, err := Compare(vs[0], Int(0))
			if err != nil {
				return Value{}, err
			}
			if n < 0 {
				return arith("-", t, zeroOf(t), vs[0])
			}
			return vs[0], nil
		}), nil
	}
	return nil, ErrUnknownFunction(strings.ToLower(f.Name))
}

func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	ls, lo := strings.ToLower(s), strings.ToLower(old)
	if len(ls) != len(s) || len(lo) != len(old) {
		return strings.ReplaceAll(s, old, repl)
	}
	var b strings.Builder
	for {
		i := strings.Index(ls, lo)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, ls = s[i+len(old):], ls[i+len(old):]
	}
}

func databaseProperty(db *DatabaseInfo, prop string) Value {
	switch strings.ToLower(prop) {
	case "status":
		return Sysname(db.State.String())
	case "updateability":
		if db.ReadOnly || db.Standby {
			return Sysname("READ_ONLY")
		}
		return Sysname("READ_WRITE")
	case "useraccess":
		return Sysname([]string{"MULTI_USER", "SINGLE_USER", "RESTRICTED_USER"}[min(int(db.UserAccess), 2)])
	case "recovery":
		switch db.RecoveryModel {
		case 2:
			return Sysname("BULK_LOGGED")
		case 3:
			return Sysname("SIMPLE")
		}
		return Sysname("FULL")
	case "isinstandby":
		if db.Standby {
			return Sysname("1")
		}
		return Sysname("0")
	case "collation":
		if db.State == StateOnline {
			return Sysname("SQL_Latin1_General_CP1_CI_AS")
		}
	}
	return Null(TypeSysname)
}

// ---- aggregates ----

func (c *compiler) aggregate(f *FuncCall) (*cexpr, error) {
	if c.agg == nil || c.inAgg {
		if c.inAgg {
			return nil, NewError(130, 16, 1, "Cannot perform an aggregate function on an expression containing an aggregate or a subquery.")
		}
		return nil, NewError(147, 15, 1, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.")
	}
	spec := &aggSpec{name: f.Name, star: f.Star, distinct: f.Distinct}
	if f.Star {
		if f.Name != "COUNT" && f.Name != "COUNT_BIG" {
			return nil, ErrSyntax("*")
		}
	} else {
		if len(f.Args) != 1 {
			return nil, ErrArgCount(f.Name, 1)
		}
		c.inAgg = true
		arg, err := c.compile(f.Args[0])
		c.inAgg = false
		if err != nil {
			return nil, err
		}
		spec.arg = arg
	}
	switch f.Name {
	case "COUNT":
		spec.t = TypeInt
	case "COUNT_BIG":
		spec.t = TypeBigInt
	case "MIN", "MAX":
		spec.t = spec.arg.t
	case "SUM", "AVG":
		t := spec.arg.t
		switch t.Kind {
		case KindTinyInt, KindSmallInt, KindInt, KindBit:
			spec.t = TypeInt
		case KindBigInt:
			spec.t = TypeBigInt
		case KindNumeric:
			if f.Name == "SUM" {
				spec.t = Numeric(38, t.Scale)
			} else {
				spec.t = Numeric(38, max(6, t.Scale))
			}
		case KindFloat:
			spec.t = TypeFloat
		default:
			return nil, NewError(8117, 16, 1, "Operand data type %s is invalid for %s operator.", t.typeName(), strings.ToLower(f.Name))
		}
	}
	idx := len(c.agg.specs)
	c.agg.specs = append(c.agg.specs, spec)
	t := spec.t
	return &cexpr{t: t, eval: func(en *env) (Value, error) {
		if idx < len(en.aggs) {
			return en.aggs[idx], nil
		}
		return Null(t), nil
	}}, nil
}

// computeAgg evaluates one aggregate over a group's rows, streaming (DISTINCT keeps a key set).
func computeAgg(spec *aggSpec, base *env, rows [][]Value) (Value, error) {
	if spec.star {
		if spec.t.Kind == KindBigInt {
			return BigInt(int64(len(rows))), nil
		}
		return Int(int32(len(rows))), nil
	}
	var seen map[string]bool
	if spec.distinct {
		seen = map[string]bool{}
	}
	en := *base
	n := 0
	var acc Value // MIN/MAX: best so far; SUM/AVG: running sum
	for _, r := range rows {
		en.row = r
		v, err := spec.arg.eval(&en)
		if err != nil {
			return Value{}, err
		}
		if v.Null {
			continue
		}
		if seen != nil {
			k := rowKey([]Value{v})
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		n++
		switch spec.name {
		case "COUNT", "COUNT_BIG":
		case "MIN", "MAX":
			if n == 1 {
				acc = v
				continue
			}
			c, err := Compare(v, acc)
			if err != nil {
				return Value{}, err
			}
			if (spec.name == "MIN" && c < 0) || (spec.name == "MAX" && c > 0) {
				acc = v
			}
		default: // SUM, AVG
			if n == 1 {
				if acc, err = Convert(v, spec.t); err != nil {
					return Value{}, err
				}
				continue
			}
			if acc, err = arith("+", spec.t, acc, v); err != nil {
				return Value{}, err
			}
		}
	}
	switch spec.name {
	case "COUNT":
		return Int(int32(n)), nil
	case "COUNT_BIG":
		return BigInt(int64(n)), nil
	}
	if n == 0 {
		return Null(spec.t), nil
	}
	switch spec.name {
	case "MIN", "MAX", "SUM":
		return acc, nil
	}
	if spec.t.Kind == KindFloat {
		return Float(acc.f / float64(n)), nil
	}
	if spec.t.IsInteger() {
		return Value{T: spec.t, i: acc.i / int64(n)}, nil
	}
	r, _ := toRat(acc)
	r.Quo(r, new(big.Rat).SetInt64(int64(n)))
	return Value{T: spec.t, d: roundRat(r, spec.t.Scale)}, nil
}

// ---- dates ----

var dateParts = map[string]string{
	"year": "year", "yy": "year", "yyyy": "year", "quarter": "quarter", "qq": "quarter", "q": "quarter",
	"month": "month", "mm": "month", "m": "month", "dayofyear": "dayofyear", "dy": "dayofyear", "y": "dayofyear",
	"day": "day", "dd": "day", "d": "day", "week": "week", "wk": "week", "ww": "week", "weekday": "weekday",
	"dw": "weekday", "w": "weekday", "hour": "hour", "hh": "hour", "minute": "minute", "mi": "minute", "n": "minute",
	"second": "second", "ss": "second", "s": "second", "millisecond": "millisecond", "ms": "millisecond",
	"microsecond": "microsecond", "mcs": "microsecond", "nanosecond": "nanosecond", "ns": "nanosecond",
}

func datePartArg(f *FuncCall, fn string) (string, error) {
	ref, ok := f.Args[0].(*ColumnRef)
	if !ok || len(ref.Parts) != 1 {
		return "", NewError(1023, 15, 1, "Invalid parameter 1 specified for %s.", fn)
	}
	p, ok := dateParts[strings.ToLower(ref.Parts[0])]
	if !ok {
		return "", ErrDatePart(ref.Parts[0], fn)
	}
	return p, nil
}

// timeOf returns the time a date function works on: the wall clock of datetime/datetime2, the UTC
// instant of datetimeoffset (as DATEDIFF does), a parsed string.
func timeOf(v Value) (time.Time, error) {
	switch {
	case v.T.Kind == KindDateTimeOffset:
		return v.t, nil
	case v.T.IsTime():
		return v.t, nil
	}
	cv, err := Convert(v, DateTime2(7))
	if err != nil {
		return time.Time{}, err
	}
	return cv.t, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// dayNumber counts days since 1970-01-01 (negative before).
func dayNumber(t time.Time) int64 {
	return floorDiv(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

// dateDiff counts the datepart boundaries crossed from a to b, as SQL Server's DATEDIFF does
// (sql-docs datediff-transact-sql.md: "the count of the specified datepart boundaries crossed").
func dateDiff(part string, a, b time.Time) (int64, error) {
	switch part {
	case "year":
		return int64(b.Year() - a.Year()), nil
	case "quarter":
		return int64((b.Year()*4 + (int(b.Month())-1)/3) - (a.Year()*4 + (int(a.Month())-1)/3)), nil
	case "month":
		return int64((b.Year()*12 + int(b.Month())) - (a.Year()*12 + int(a.Month()))), nil
	case "day", "dayofyear", "weekday":
		return dayNumber(b) - dayNumber(a), nil
	case "week":
		// weeks start on Sunday; 1970-01-04 was a Sunday
		return floorDiv(dayNumber(b)-3, 7) - floorDiv(dayNumber(a)-3, 7), nil
	}
	unit := map[string]int64{"hour": 3600e9, "minute": 60e9, "second": 1e9, "millisecond": 1e6, "microsecond": 1e3, "nanosecond": 1}[part]
	// nanoseconds since epoch overflow int64 beyond year 2262: use big arithmetic
	ta := new(big.Int).Add(new(big.Int).Mul(big.NewInt(a.Unix()), big.NewInt(1e9)), big.NewInt(int64(a.Nanosecond())))
	tb := new(big.Int).Add(new(big.Int).Mul(big.NewInt(b.Unix()), big.NewInt(1e9)), big.NewInt(int64(b.Nanosecond())))
	u := big.NewInt(unit)
	qa, qb := new(big.Int), new(big.Int)
	qa.Div(ta, u) // Euclidean division = floor for positive divisor
	qb.Div(tb, u)
	d := qb.Sub(qb, qa)
	if !d.IsInt64() {
		return 0, ErrDateDiffOverflow()
	}
	return d.Int64(), nil
}

// dateAdd adds n dateparts to t; months clamp to the end of the month as SQL Server does.
func dateAdd(part string, n int64, t time.Time) (time.Time, error) {
	overflow := NewError(517, 16, 1, "Adding a value to a 'datetime2' column caused an overflow.")
	addMonths := func(m int64) (time.Time, error) {
		total := int64(t.Year())*12 + int64(t.Month()-1) + m
		y, mo := floorDiv(total, 12), total-floorDiv(total, 12)*12
		if y < 1 || y > 9999 {
			return time.Time{}, overflow
		}
		last := time.Date(int(y), time.Month(mo+2), 0, 0, 0, 0, 0, time.UTC).Day()
		d := min(t.Day(), last)
		return time.Date(int(y), time.Month(mo+1), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), nil
	}
	switch part {
	case "year":
		return addMonths(n * 12)
	case "quarter":
		return addMonths(n * 3)
	case "month":
		return addMonths(n)
	case "day", "dayofyear", "weekday":
		return t.AddDate(0, 0, int(n)), nil
	case "week":
		return t.AddDate(0, 0, int(n*7)), nil
	}
	unit := map[string]time.Duration{"hour": time.Hour, "minute": time.Minute, "second": time.Second,
		"millisecond": time.Millisecond, "microsecond": time.Microsecond, "nanosecond": 1}[part]
	if n != 0 && (n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit)) {
		return time.Time{}, overflow
	}
	return t.Add(time.Duration(n) * unit), nil
}

func datePart(part string, t time.Time) int {
	switch part {
	case "year":
		return t.Year()
	case "quarter":
		return (int(t.Month())-1)/3 + 1
	case "month":
		return int(t.Month())
	case "dayofyear":
		return t.YearDay()
	case "day":
		return t.Day()
	case "week":
		jan1 := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return (t.YearDay()+int(jan1.Weekday())-1)/7 + 1
	case "weekday":
		return int(t.Weekday()) + 1
	case "hour":
		return t.Hour()
	case "minute":
		return t.Minute()
	case "second":
		return t.Second()
	case "millisecond":
		return t.Nanosecond() / 1e6
	case "microsecond":
		return t.Nanosecond() / 1e3
	}
	return t.Nanosecond()
}

// formatStyle renders a time for CONVERT(varchar, t, style) for the common styles.
func formatStyle(v Value, style Value) string {
	t := v.Time()
	n := style.Int64()
	if style.T.IsString() {
		_, _ = fmt.Sscan(style.s, &n)
	}
	switch n {
	case 112:
		return t.Format("20060102")
	case 23:
		return t.Format("2006-01-02")
	case 108:
		return t.Format("15:04:05")
	case 126, 127:
		return t.Format("2006-01-02T15:04:05.000")
	case 120, 20:
		return t.Format("2006-01-02 15:04:05")
	}
	return v.Text()
}

// objectID is a stable positive id for a resolved object name (OBJECT_ID); the lab has no real ids.
func objectID(ref TableName) int32 {
	h := uint32(2166136261)
	for _, c := range strings.ToLower(ref.String()) {
		h = (h ^ uint32(c)) * 16777619
	}
	return int32(h&0x3fffffff) + 1
}

// window compiles a ranking function: ROW_NUMBER, RANK or DENSE_RANK OVER (PARTITION BY … ORDER BY …).
func (c *compiler) window(f *FuncCall) (*cexpr, error) {
	switch f.Name {
	case "ROW_NUMBER", "RANK", "DENSE_RANK":
	default:
		return nil, NewError(50000, 16, 1, "The lab supports only ROW_NUMBER, RANK and DENSE_RANK with OVER; %s is not supported.", f.Name)
	}
	if len(f.Args) > 0 || f.Star {
		return nil, ErrArgCount(f.Name, 0)
	}
	if c.win == nil {
		return nil, NewError(4108, 16, 1, "Windowed functions can only appear in the SELECT or ORDER BY clauses.")
	}
	if len(f.Over.OrderBy) == 0 {
		return nil, NewError(4112, 16, 1, "The function '%s' must have an OVER clause with ORDER BY.", strings.ToLower(f.Name))
	}
	spec := &winSpec{name: f.Name}
	inner := *c
	inner.win = nil // no nesting
	for _, p := range f.Over.PartitionBy {
		x, err := inner.compile(p)
		if err != nil {
			return nil, err
		}
		spec.partition = append(spec.partition, x)
	}
	for _, o := range f.Over.OrderBy {
		x, err := inner.compile(o.Expr)
		if err != nil {
			return nil, err
		}
		spec.order = append(spec.order, x)
		spec.desc = append(spec.desc, o.Desc)
	}
	idx := len(c.win.specs)
	c.win.specs = append(c.win.specs, spec)
	return &cexpr{t: TypeBigInt, eval: func(en *env) (Value, error) {
		if idx < len(en.win) {
			return en.win[idx], nil
		}
		return Null(TypeBigInt), nil
	}}, nil
}

// rankRows computes every ranking function for rows; out[i][k] is spec k's value for row i.
func rankRows(base *env, specs []*winSpec, rows [][]Value) ([][]Value, error) {
	out := make([][]Value, len(rows))
	for i := range out {
		out[i] = make([]Value, len(specs))
	}
	en := *base
	for k, spec := range specs {
		type item struct {
			idx  int
			keys []Value
		}
		parts := map[string][]item{}
		var order []string
		for i, r := range rows {
			en.row = r
			pk := make([]Value, len(spec.partition))
			for j, x := range spec.partition {
				v, err := x.eval(&en)
				if err != nil {
					return nil, err
				}
				pk[j] = v
			}
			key := rowKey(pk)
			it := item{idx: i, keys: make([]Value, len(spec.order))}
			for j, x := range spec.order {
				v, err := x.eval(&en)
				if err != nil {
					return nil, err
				}
				it.keys[j] = v
			}
			if _, ok := parts[key]; !ok {
				order = append(order, key)
			}
			parts[key] = append(parts[key], it)
		}
		var sortErr error
		cmp := func(a, b item) int {
			for j := range a.keys {
				n, err := compareNullsFirst(a.keys[j], b.keys[j])
				if err != nil && sortErr == nil {
					sortErr = err
				}
				if spec.desc[j] {
					n = -n
				}
				if n != 0 {
					return n
				}
			}
			return 0
		}
		for _, key := range order {
			items := parts[key]
			sort.SliceStable(items, func(a, b int) bool { return cmp(items[a], items[b]) < 0 })
			rank, dense := int64(0), int64(0)
			for pos, it := range items {
				if pos == 0 || cmp(items[pos-1], it) != 0 {
					rank = int64(pos + 1)
					dense++
				}
				switch spec.name {
				case "ROW_NUMBER":
					out[it.idx][k] = BigInt(int64(pos + 1))
				case "RANK":
					out[it.idx][k] = BigInt(rank)
				default:
					out[it.idx][k] = BigInt(dense)
				}
			}
		}
		if sortErr != nil {
			return nil, sortErr
		}
	}
	return out, nil
}
