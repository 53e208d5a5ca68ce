package engine

import (
	"context"
	"math/big"
	"strings"
)

// cexpr is a compiled (bound and typed) expression.
type cexpr struct {
	t    Type
	eval func(*env) (Value, error)
}

// env is the evaluation environment of one row.
type env struct {
	ctx   context.Context
	st    *stmtCtx
	row   []Value
	aggs  []Value
	win   []Value // the current row's ranking-function values
	outer *env
}

// stmtCtx is per-statement state: the session, a server snapshot and the tables read so far, so
// every reference to a table within one statement sees the same rows.
type stmtCtx struct {
	ctx    context.Context
	sess   *Session
	server ServerInfo
	dbs    []DatabaseInfo
	tables map[string]*Relation
	ctes   map[string]*CTE // the statement's common table expressions, by lower-case name
}

// source is one FROM item in a scope.
type source struct {
	alias  string    // alias, or the table's own name when none
	hasAs  bool      // an explicit alias was given
	name   TableName // resolved table (empty for derived tables)
	cols   []Column
	offset int
}

// scope is the name-resolution scope of one SELECT; parent is the enclosing query's scope.
type scope struct {
	parent  *scope
	sources []*source
	width   int
}

// compiler compiles expressions of one SELECT (or a statement without FROM).
type compiler struct {
	st    *stmtCtx
	sc    *scope
	agg   *aggState // non-nil while compiling the select list / HAVING / ORDER BY of a grouped query
	inAgg bool
	inKey bool      // compiling an expression that is itself a GROUP BY key
	win   *winState // non-nil where ranking functions are allowed (select list, ORDER BY)
}

// winState collects the ranking functions of a SELECT.
type winState struct{ specs []*winSpec }

type winSpec struct {
	name      string // ROW_NUMBER, RANK, DENSE_RANK
	partition []*cexpr
	order     []*cexpr
	desc      []bool
}

// aggState collects the aggregates of a grouped query and the columns it groups by.
type aggState struct {
	specs   []*aggSpec
	grouped map[[2]int]bool // (depth 0 only) column index → grouped
	keys    map[string]bool // canonical text of GROUP BY expressions that are not plain columns
	groupBy bool            // the query has GROUP BY (else one implicit group)
}

type aggSpec struct {
	name     string
	star     bool
	distinct bool
	arg      *cexpr
	t        Type
}

func (c *compiler) compile(e Expr) (*cexpr, error) {
	if c.agg != nil && !c.inAgg && !c.inKey && len(c.agg.keys) > 0 {
		if _, isCol := e.(*ColumnRef); !isCol && c.agg.keys[exprKey(e)] {
			// a GROUP BY expression: constant within its group, evaluated on the group's first row
			c.inKey = true
			x, err := c.compile(e)
			c.inKey = false
			return x, err
		}
	}
	switch e := e.(type) {
	case *Literal:
		v := e.Val
		return &cexpr{t: v.T, eval: func(*env) (Value, error) { return v, nil }}, nil
	case *ColumnRef:
		return c.column(e)
	case *VarRef:
		return c.variable(e.Name)
	case *GlobalRef:
		return c.global(e.Name)
	case *Unary:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		if e.Op == "+" {
			return x, nil
		}
		if !x.t.IsNumber() && x.t.Kind != KindUnknown {
			return nil, NewError(8117, 16, 1, "Operand data type %s is invalid for %s operator.", x.t.typeName(), map[string]string{"-": "minus", "~": "~"}[e.Op])
		}
		t := x.t
		if t.Kind == KindBit || t.Kind == KindUnknown {
			t = TypeInt
		}
		op := e.Op
		return &cexpr{t: t, eval: func(en *env) (Value, error) {
			v, err := x.eval(en)
			if err != nil || v.Null {
				return Null(t), err
			}
			if op == "~" {
				cv, err := Convert(v, t)
				if err != nil {
					return Value{}, err
				}
				cv.i = ^cv.i
				return cv, nil
			}
			return arith("-", t, zeroOf(t), v)
		}}, nil
	case *Binary:
		return c.binary(e)
	case *Not:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		return boolExpr(func(en *env) (tri, error) {
			v, err := evalBool(en, x)
			return v.not(), err
		}), nil
	case *IsNull:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		not := e.Not
		return boolExpr(func(en *env) (tri, error) {
			v, err := x.eval(en)
			if err != nil {
				return triUnknown, err
			}
			return triOf(v.Null != not), nil
		}), nil
	case *InList:
		return c.inList(e)
	case *Like:
		return c.like(e)
	case *Between:
		return c.compile(&Binary{Op: "AND", L: &Binary{Op: ">=", L: e.X, R: e.Lo}, R: &Binary{Op: "<=", L: e.X, R: e.Hi}})
	case *FuncCall:
		return c.function(e)
	case *Cast:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		to := e.To
		try := e.Try
		var style *cexpr
		if e.Style != nil {
			if style, err = c.compile(e.Style); err != nil {
				return nil, err
			}
		}
		return &cexpr{t: to, eval: func(en *env) (Value, error) {
			v, err := x.eval(en)
			if err != nil {
				return Value{}, err
			}
			if style != nil && to.IsString() && v.T.IsTime() && !v.Null {
				sv, err := style.eval(en)
				if err != nil {
					return Value{}, err
				}
				return stringTo(to, formatStyle(v, sv)), nil
			}
			cv, err := Convert(v, to)
			if err != nil && try && len(Messages(err)) == 1 && Messages(err)[0].Number != 529 {
				return Null(to), nil // TRY_ returns NULL when the conversion fails (not when it is not allowed)
			}
			return cv, err
		}}, nil
	case *Case:
		return c.caseExpr(e)
	case *Subquery:
		return c.subquery(e.Select)
	case *Exists:
		plan, err := compileSelect(c.st, e.Select, c.sc)
		if err != nil {
			return nil, err
		}
		return boolExpr(func(en *env) (tri, error) {
			rs, err := plan.run(en)
			if err != nil {
				return triUnknown, err
			}
			return triOf(len(rs.Rows) > 0), nil
		}), nil
	}
	return nil, ErrSyntax("?")
}

func zeroOf(t Type) Value {
	v, _ := Convert(Int(0), t)
	return v
}

// ---- three-valued logic ----

type tri uint8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func (t tri) not() tri {
	switch t {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triUnknown
}

// boolExpr wraps a predicate as a bit-typed expression (NULL for UNKNOWN).
func boolExpr(f func(*env) (tri, error)) *cexpr {
	return &cexpr{t: TypeBit, eval: func(en *env) (Value, error) {
		t, err := f(en)
		if err != nil {
			return Value{}, err
		}
		if t == triUnknown {
			return Null(TypeBit), nil
		}
		return Bit(t == triTrue), nil
	}}
}

func evalBool(en *env, x *cexpr) (tri, error) {
	v, err := x.eval(en)
	if err != nil {
		return triUnknown, err
	}
	if v.Null {
		return triUnknown, nil
	}
	if v.T.Kind == KindBit || v.T.IsInteger() {
		return triOf(v.i != 0), nil
	}
	return triUnknown, NewError(4145, 15, 1, "An expression of non-boolean type specified in a context where a condition is expected.")
}

func (c *compiler) binary(e *Binary) (*cexpr, error) {
	l, err := c.compile(e.L)
	if err != nil {
		return nil, err
	}
	r, err := c.compile(e.R)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "AND":
		return connective(l, r, triFalse, triTrue), nil
	case "OR":
		return connective(l, r, triTrue, triFalse), nil
	case "=", "<>", "<", ">", "<=", ">=":
		if !compatible(l.t, r.t) {
			return nil, ErrOperandClash(l.t, r.t)
		}
		op := e.Op
		return boolExpr(func(en *env) (tri, error) {
			a, err := l.eval(en)
			if err != nil {
				return triUnknown, err
			}
			b, err := r.eval(en)
			if err != nil {
				return triUnknown, err
			}
			if a.Null || b.Null {
				return triUnknown, nil
			}
			n, err := Compare(a, b)
			if err != nil {
				return triUnknown, err
			}
			switch op {
			case "=":
				return triOf(n == 0), nil
			case "<>":
				return triOf(n != 0), nil
			case "<":
				return triOf(n < 0), nil
			case ">":
				return triOf(n > 0), nil
			case "<=":
				return triOf(n <= 0), nil
			}
			return triOf(n >= 0), nil
		}), nil
	}
	// An integer constant takes part in numeric arithmetic with the precision of its digits
	// (SQL Server types the constant 2 as numeric(1,0) there: 7.0 / 2 = 3.500000).
	lt, rt := literalShape(e.L, l.t, r.t), literalShape(e.R, r.t, l.t)
	t, err := arithType(e.Op, lt, rt)
	if err != nil {
		return nil, err
	}
	op := e.Op
	return &cexpr{t: t, eval: func(en *env) (Value, error) {
		a, err := l.eval(en)
		if err != nil {
			return Value{}, err
		}
		b, err := r.eval(en)
		if err != nil {
			return Value{}, err
		}
		if a.Null || b.Null {
			return Null(t), nil
		}
		return arith(op, t, a, b)
	}}, nil
}

// hashedIn evaluates x IN (items) with the items computed once and kept in a set.
func (c *compiler) hashedIn(x *cexpr, items []*cexpr, not bool) *cexpr {
	var set map[string]bool
	hasNull := false
	return boolExpr(func(en *env) (tri, error) {
		if set == nil {
			set = make(map[string]bool, len(items))
			for _, it := range items {
				w, err := it.eval(en)
				if err != nil {
					return triUnknown, err
				}
				if w.Null {
					hasNull = true
					continue
				}
				set[rowKey([]Value{w})] = true
			}
		}
		v, err := x.eval(en)
		if err != nil {
			return triUnknown, err
		}
		res := triFalse
		switch {
		case v.Null:
			res = triUnknown
		case set[rowKey([]Value{v})]:
			res = triTrue
		case hasNull:
			res = triUnknown
		}
		if not {
			return res.not(), nil
		}
		return res, nil
	})
}

// rowIndependent reports whether expressions use no columns and no subqueries, so their values
// are the same for every row of a statement.
func rowIndependent(list []Expr) bool {
	ok := true
	var walk func(Expr)
	walk = func(e Expr) {
		if !ok || e == nil {
			return
		}
		switch e := e.(type) {
		case *ColumnRef, *Subquery, *Exists, *InList:
			ok = false
		case *FuncCall:
			if e.Name == "NEWID" {
				ok = false
			}
			for _, a := range e.Args {
				walk(a)
			}
		case *Unary:
			walk(e.X)
		case *Binary:
			walk(e.L)
			walk(e.R)
		case *Cast:
			walk(e.X)
		case *Case:
			ok = false
		}
	}
	for _, e := range list {
		walk(e)
	}
	return ok
}

func literalShape(e Expr, t, other Type) Type {
	lit, ok := e.(*Literal)
	if !ok || !t.IsInteger() || other.Kind != KindNumeric || lit.Val.Null {
		return t
	}
	return Numeric(digits(big.NewInt(lit.Val.i)), 0)
}

func (c *compiler) inList(e *InList) (*cexpr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	not := e.Not
	var items []*cexpr
	var sub *selectPlan
	if e.Sub != nil {
		if sub, err = compileSelect(c.st, e.Sub, c.sc); err != nil {
			return nil, err
		}
		if len(sub.outCols) != 1 {
			return nil, NewError(116, 16, 1, "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.")
		}
	}
	for _, it := range e.List {
		ci, err := c.compile(it)
		if err != nil {
			return nil, err
		}
		if !compatible(x.t, ci.t) {
			return nil, ErrOperandClash(x.t, ci.t)
		}
		items = append(items, ci)
	}
	// A list of constants and variables (the usual `name IN (@p1, …, @pN)`) is evaluated once per
	// statement and hashed when its values hash like x's.
	if sub == nil && len(items) > 8 && rowIndependent(e.List) {
		hashable := true
		for _, it := range items {
			if it.t.Kind != KindUnknown && !sameHashFamily(x.t, it.t) {
				hashable = false
			}
		}
		if hashable {
			return c.hashedIn(x, items, not), nil
		}
	}
	return boolExpr(func(en *env) (tri, error) {
		v, err := x.eval(en)
		if err != nil {
			return triUnknown, err
		}
		var cands []Value
		if sub != nil {
			rs, err := sub.run(en)
			if err != nil {
				return triUnknown, err
			}
			for _, row := range rs.Rows {
				cands = append(cands, row[0])
			}
		} else {
			for _, it := range items {
				w, err := it.eval(en)
				if err != nil {
					return triUnknown, err
				}
				cands = append(cands, w)
			}
		}
		if v.Null {
			if len(cands) == 0 {
				return triOf(not), nil
			}
			return triUnknown, nil
		}
		res := triFalse
		for _, w := range cands {
			if w.Null {
				res = triUnknown
				continue
			}
			n, err := Compare(v, w)
			if err != nil {
				return triUnknown, err
			}
			if n == 0 {
				res = triTrue
				break
			}
		}
		if not {
			return res.not(), nil
		}
		return res, nil
	}), nil
}

func (c *compiler) like(e *Like) (*cexpr, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	pat, err := c.compile(e.Pattern)
	if err != nil {
		return nil, err
	}
	var esc *cexpr
	if e.Escape != nil {
		if esc, err = c.compile(e.Escape); err != nil {
			return nil, err
		}
	}
	not := e.Not
	return boolExpr(func(en *env) (tri, error) {
		v, err := x.eval(en)
		if err != nil {
			return triUnknown, err
		}
		p, err := pat.eval(en)
		if err != nil {
			return triUnknown, err
		}
		if v.Null || p.Null {
			return triUnknown, nil
		}
		var er rune
		if esc != nil {
			ev, err := esc.eval(en)
			if err != nil {
				return triUnknown, err
			}
			if !ev.Null {
				rs := []rune(ev.Text())
				if len(rs) != 1 {
					return triUnknown, NewError(506, 16, 1, "The invalid escape character \"%s\" was specified in a LIKE predicate.", ev.Text())
				}
				er = []rune(strings.ToLower(string(rs[0])))[0]
			}
		}
		m := like(v.Text(), p.Text(), er)
		return triOf(m != not), nil
	}), nil
}

func (c *compiler) caseExpr(e *Case) (*cexpr, error) {
	var operand *cexpr
	var err error
	if e.Operand != nil {
		if operand, err = c.compile(e.Operand); err != nil {
			return nil, err
		}
	}
	type arm struct{ cond, res *cexpr }
	var arms []arm
	var t Type
	for _, w := range e.Whens {
		var cond *cexpr
		if operand != nil {
			if cond, err = c.compile(&Binary{Op: "=", L: e.Operand, R: w.Cond}); err != nil {
				return nil, err
			}
		} else if cond, err = c.compile(w.Cond); err != nil {
			return nil, err
		}
		res, err := c.compile(w.Result)
		if err != nil {
			return nil, err
		}
		if !compatible(t, res.t) {
			return nil, ErrOperandClash(t, res.t)
		}
		t = commonType(t, res.t)
		arms = append(arms, arm{cond, res})
	}
	var els *cexpr
	if e.Else != nil {
		if els, err = c.compile(e.Else); err != nil {
			return nil, err
		}
		if !compatible(t, els.t) {
			return nil, ErrOperandClash(t, els.t)
		}
		t = commonType(t, els.t)
	}
	return &cexpr{t: t, eval: func(en *env) (Value, error) {
		for _, a := range arms {
			b, err := evalBool(en, a.cond)
			if err != nil {
				return Value{}, err
			}
			if b == triTrue {
				v, err := a.res.eval(en)
				if err != nil {
					return Value{}, err
				}
				return Convert(v, t)
			}
		}
		if els == nil {
			return Null(t), nil
		}
		v, err := els.eval(en)
		if err != nil {
			return Value{}, err
		}
		return Convert(v, t)
	}}, nil
}

func (c *compiler) subquery(s *SelectStmt) (*cexpr, error) {
	plan, err := compileSelect(c.st, s, c.sc)
	if err != nil {
		return nil, err
	}
	if len(plan.outCols) != 1 {
		return nil, NewError(116, 16, 1, "Only one expression can be specified in the select list when the subquery is not introduced with EXISTS.")
	}
	t := plan.outCols[0].Type
	return &cexpr{t: t, eval: func(en *env) (Value, error) {
		rs, err := plan.run(en)
		if err != nil {
			return Value{}, err
		}
		switch len(rs.Rows) {
		case 0:
			return Null(t), nil
		case 1:
			return rs.Rows[0][0], nil
		}
		return Value{}, ErrSubqueryRows()
	}}, nil
}

// ---- names ----

var niladic = map[string]string{
	"CURRENT_TIMESTAMP": "GETDATE", "CURRENT_USER": "USER_NAME", "SESSION_USER": "USER_NAME",
	"SYSTEM_USER": "SUSER_SNAME", "USER": "USER_NAME",
}

func (c *compiler) column(e *ColumnRef) (*cexpr, error) {
	if len(e.Parts) == 1 {
		if fn, ok := niladic[strings.ToUpper(e.Parts[0])]; ok {
			return c.function(&FuncCall{Name: fn})
		}
	}
	name := e.Parts[len(e.Parts)-1]
	quals := e.Parts[:len(e.Parts)-1]
	depth := 0
	for sc := c.sc; sc != nil; sc, depth = sc.parent, depth+1 {
		var found *source
		idx := -1
		matchedSource := false
		for _, s := range sc.sources {
			if len(quals) > 0 && !s.matches(quals) {
				continue
			}
			matchedSource = true
			for i, col := range s.cols {
				if strings.EqualFold(col.Name, name) {
					if found != nil {
						return nil, ErrAmbiguousColumn(name)
					}
					found, idx = s, s.offset+i
					break
				}
			}
		}
		if found == nil {
			if len(quals) > 0 && matchedSource {
				return nil, ErrInvalidColumn(name)
			}
			continue
		}
		t := found.cols[idx-found.offset].Type
		pos := idx
		d := depth
		if c.agg != nil && !c.inAgg && !c.inKey && d == 0 && !c.agg.grouped[[2]int{0, pos}] {
			return nil, ErrNotInGroupBy(found.alias + "." + found.cols[pos-found.offset].Name)
		}
		return &cexpr{t: t, eval: func(en *env) (Value, error) {
			for i := 0; i < d; i++ {
				en = en.outer
			}
			if en == nil || pos >= len(en.row) {
				return Null(t), nil
			}
			return en.row[pos], nil
		}}, nil
	}
	if len(quals) > 0 {
		return nil, NewError(4104, 16, 1, "The multi-part identifier \"%s\" could not be bound.", strings.Join(e.Parts, "."))
	}
	return nil, ErrInvalidColumn(name)
}

// matches reports whether qualifiers (…, [db], [schema], table) name this source.
func (s *source) matches(quals []string) bool {
	q := quals[len(quals)-1]
	if s.hasAs {
		return len(quals) == 1 && strings.EqualFold(q, s.alias)
	}
	if !strings.EqualFold(q, s.alias) {
		return false
	}
	if len(quals) >= 2 && quals[len(quals)-2] != "" && !strings.EqualFold(quals[len(quals)-2], s.name.Schema) {
		return false
	}
	if len(quals) >= 3 && quals[len(quals)-3] != "" && !strings.EqualFold(quals[len(quals)-3], s.name.Database) {
		return false
	}
	return true
}

func (c *compiler) variable(name string) (*cexpr, error) {
	v, ok := c.st.sess.vars[strings.ToLower(name)]
	if !ok {
		return nil, ErrUndeclaredVariable(name)
	}
	return &cexpr{t: v.t, eval: func(*env) (Value, error) { return v.v, nil }}, nil
}

func (c *compiler) global(name string) (*cexpr, error) {
	st := c.st
	s := st.sess
	fixed := func(t Type, f func() Value) (*cexpr, error) {
		return &cexpr{t: t, eval: func(*env) (Value, error) { return f(), nil }}, nil
	}
	switch name {
	case "@@SERVERNAME":
		return fixed(TypeSysname, func() Value { return Sysname(st.server.Name) })
	case "@@SERVICENAME":
		return fixed(TypeSysname, func() Value { return Sysname("MSSQLSERVER") })
	case "@@VERSION":
		return fixed(NVarChar(300), func() Value { return String(NVarChar(300), st.server.Version) })
	case "@@SPID":
		return fixed(TypeSmallInt, func() Value { return SmallInt(int16(s.info.SPID)) })
	case "@@TRANCOUNT":
		return fixed(TypeInt, func() Value { return Int(int32(s.trancount)) })
	case "@@ROWCOUNT":
		return fixed(TypeInt, func() Value { return Int(int32(s.rowcount)) })
	case "@@ERROR":
		return fixed(TypeInt, func() Value { return Int(s.lastError) })
	case "@@LANGUAGE":
		return fixed(TypeSysname, func() Value { return Sysname("us_english") })
	case "@@MAX_PRECISION":
		return fixed(TypeTinyInt, func() Value { return TinyInt(38) })
	case "@@TEXTSIZE":
		return fixed(TypeInt, func() Value { return Int(2147483647) })
	case "@@OPTIONS":
		return fixed(TypeInt, func() Value { return Int(5496) })
	}
	return nil, ErrUndeclaredVariable(name)
}

// connective is AND (dominant FALSE, otherwise TRUE) or OR (dominant TRUE, otherwise FALSE) in
// three-valued logic: the dominant value on either side decides, and r is not evaluated when l
// already has it; otherwise UNKNOWN on either side gives UNKNOWN.
func connective(l, r *cexpr, dominant, otherwise tri) *cexpr {
	return boolExpr(func(en *env) (tri, error) {
		a, err := evalBool(en, l)
		if err != nil || a == dominant {
			return a, err
		}
		b, err := evalBool(en, r)
		if err != nil {
			return triUnknown, err
		}
		if b == dominant {
			return dominant, nil
		}
		if a == triUnknown || b == triUnknown {
			return triUnknown, nil
		}
		return otherwise, nil
	})
}
