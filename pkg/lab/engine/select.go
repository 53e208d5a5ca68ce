package engine

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// ResultSet is a result set: its columns and rows.
type ResultSet struct {
	Columns []Column
	Rows    [][]Value
}

// selectPlan is a compiled SELECT.
type selectPlan struct {
	sc        *scope
	from      []producer
	where     *cexpr
	agg       *aggState
	groupKeys []*cexpr
	having    *cexpr
	outCols   []Column
	outExprs  []*cexpr
	assigns   []string
	order     []orderKey
	distinct  bool
	top       *cexpr
	offset    *cexpr
	fetch     *cexpr
	noFrom    bool
	st        *stmtCtx
	rawTypes  []Type        // output types before an untyped NULL became int (for UNION typing)
	win       *winState     // ranking functions of the select list and ORDER BY
	members   []*selectPlan // a UNION: its members, in order
	memberAll []bool        // memberAll[i]: member i+1 was joined with UNION ALL
}

type orderKey struct {
	expr   *cexpr
	outIdx int // ≥ 0: sort by this output column
	desc   bool
}

// producer yields full-width rows of a FROM item.
type producer struct {
	lo, hi int
	run    func(en *env) ([][]Value, error)
}

func hasAggregate(e Expr) bool {
	found := false
	var walk func(Expr)
	walk = func(e Expr) {
		if found || e == nil {
			return
		}
		switch e := e.(type) {
		case *FuncCall:
			if aggregates[e.Name] {
				found = true
				return
			}
			for _, a := range e.Args {
				walk(a)
			}
		case *Unary:
			walk(e.X)
		case *Binary:
			walk(e.L)
			walk(e.R)
		case *Not:
			walk(e.X)
		case *IsNull:
			walk(e.X)
		case *InList:
			walk(e.X)
			for _, a := range e.List {
				walk(a)
			}
		case *Like:
			walk(e.X)
			walk(e.Pattern)
		case *Between:
			walk(e.X)
			walk(e.Lo)
			walk(e.Hi)
		case *Cast:
			walk(e.X)
		case *Case:
			walk(e.Operand)
			for _, w := range e.Whens {
				walk(w.Cond)
				walk(w.Result)
			}
			walk(e.Else)
		}
	}
	walk(e)
	return found
}

// compileSelect binds and types a SELECT. parent is the enclosing scope for correlated subqueries.
func compileSelect(st *stmtCtx, s *SelectStmt, parent *scope) (*selectPlan, error) {
	if len(s.With) > 0 {
		if st.ctes == nil {
			st.ctes = map[string]*CTE{}
		}
		for i := range s.With {
			c := &s.With[i]
			key := strings.ToLower(c.Name)
			if _, dup := st.ctes[key]; dup {
				return nil, NewError(239, 16, 1, "Duplicate common table expression name '%s' was specified.", c.Name)
			}
			st.ctes[key] = c
		}
		inner := *s
		inner.With = nil
		return compileSelect(st, &inner, parent)
	}
	if s.Union != nil {
		return compileUnion(st, s, parent)
	}
	p := &selectPlan{st: st, sc: &scope{parent: parent}, distinct: s.Distinct}
	for _, te := range s.From {
		pr, err := p.addSource(te)
		if err != nil {
			return nil, err
		}
		p.from = append(p.from, pr)
	}
	p.noFrom = len(s.From) == 0
	c := &compiler{st: st, sc: p.sc}
	var err error
	if s.Where != nil {
		if hasAggregate(s.Where) {
			return nil, NewError(147, 15, 1, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.")
		}
		if p.where, err = c.compile(s.Where); err != nil {
			return nil, err
		}
	}
	grouped := len(s.GroupBy) > 0 || s.Having != nil
	for _, it := range s.Items {
		if it.Expr != nil && hasAggregate(it.Expr) {
			grouped = true
		}
	}
	for _, o := range s.OrderBy {
		if hasAggregate(o.Expr) {
			grouped = true
		}
	}
	if !grouped {
		p.win = &winState{}
		c.win = p.win // ranking functions: select list and ORDER BY of a query without grouping
	}
	if grouped {
		p.agg = &aggState{grouped: map[[2]int]bool{}, groupBy: len(s.GroupBy) > 0}
		for _, g := range s.GroupBy {
			k, err := c.compile(g)
			if err != nil {
				return nil, err
			}
			if ref, ok := g.(*ColumnRef); ok {
				if pos, ok := p.resolveLocal(ref); ok {
					p.agg.grouped[[2]int{0, pos}] = true
				}
			} else {
				if p.agg.keys == nil {
					p.agg.keys = map[string]bool{}
				}
				p.agg.keys[exprKey(g)] = true
			}
			p.groupKeys = append(p.groupKeys, k)
		}
		c.agg = p.agg
	}
	// select list
	for _, it := range s.Items {
		if it.Star {
			if grouped {
				return nil, ErrNotInGroupBy("*")
			}
			n := 0
			for _, src := range p.sc.sources {
				if it.StarOf != "" && !src.matches([]string{it.StarOf}) {
					continue
				}
				for i, col := range src.cols {
					pos := src.offset + i
					t := col.Type
					p.outCols = append(p.outCols, Column{Name: col.Name, Type: t, Nullable: true})
					p.rawTypes = append(p.rawTypes, t)
					p.outExprs = append(p.outExprs, &cexpr{t: t, eval: func(en *env) (Value, error) { return en.row[pos], nil }})
					n++
				}
			}
			if n == 0 {
				if it.StarOf != "" {
					return nil, NewError(4104, 16, 1, "The multi-part identifier \"%s\" could not be bound.", it.StarOf)
				}
				return nil, NewError(263, 16, 1, "Must specify table to select from.")
			}
			continue
		}
		x, err := c.compile(it.Expr)
		if err != nil {
			return nil, err
		}
		name := it.Alias
		if name == "" {
			if ref, ok := it.Expr.(*ColumnRef); ok {
				name = ref.Parts[len(ref.Parts)-1]
			}
		}
		t := x.t
		p.rawTypes = append(p.rawTypes, t)
		if t.Kind == KindUnknown {
			t = TypeInt
		}
		p.outCols = append(p.outCols, Column{Name: name, Type: t, Nullable: true})
		p.outExprs = append(p.outExprs, x)
		if it.AssignVar != "" {
			v, ok := st.sess.vars[strings.ToLower(it.AssignVar)]
			if !ok {
				return nil, ErrUndeclaredVariable(it.AssignVar)
			}
			_ = v
			p.assigns = append(p.assigns, it.AssignVar)
		} else if len(p.assigns) > 0 {
			return nil, NewError(141, 15, 1, "A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.")
		}
	}
	if len(p.assigns) > 0 && len(p.assigns) != len(p.outExprs) {
		return nil, NewError(141, 15, 1, "A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.")
	}
	if s.Having != nil {
		if p.having, err = c.compile(s.Having); err != nil {
			return nil, err
		}
	}
	for _, o := range s.OrderBy {
		k := orderKey{outIdx: -1, desc: o.Desc}
		if lit, ok := o.Expr.(*Literal); ok && lit.Val.T.IsInteger() {
			n := int(lit.Val.i)
			if n < 1 || n > len(p.outCols) {
				return nil, NewError(108, 15, 1, "The ORDER BY position number %d is out of range of the number of items in the select list.", n)
			}
			k.outIdx = n - 1
		} else if ref, ok := o.Expr.(*ColumnRef); ok && len(ref.Parts) == 1 {
			for i, it := range s.Items {
				if it.Alias != "" && strings.EqualFold(it.Alias, ref.Parts[0]) {
					k.outIdx = i
					break
				}
			}
		}
		if k.outIdx < 0 {
			if k.expr, err = c.compile(o.Expr); err != nil {
				return nil, err
			}
		}
		p.order = append(p.order, k)
	}
	tc := &compiler{st: st, sc: parent}
	if s.Top != nil {
		if p.top, err = tc.compile(s.Top); err != nil {
			return nil, err
		}
	}
	if s.Offset != nil {
		if p.offset, err = tc.compile(s.Offset); err != nil {
			return nil, err
		}
	}
	if s.Fetch != nil {
		if p.fetch, err = tc.compile(s.Fetch); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// rowCount evaluates a TOP/OFFSET/FETCH count: a non-negative integer.
func (p *selectPlan) rowCount(x *cexpr, outer *env, what string) (int64, error) {
	v, err := x.eval(&env{ctx: p.st.ctx, st: p.st, outer: outer})
	if err != nil {
		return 0, err
	}
	n, err := Convert(v, TypeBigInt)
	if err != nil || n.Null || n.i < 0 {
		return 0, NewError(10742, 16, 1, "The %s clause has an invalid value.", what)
	}
	return n.i, nil
}

// resolveLocal finds the row position of a column reference in this select's own sources.
func (p *selectPlan) resolveLocal(ref *ColumnRef) (int, bool) {
	name := ref.Parts[len(ref.Parts)-1]
	quals := ref.Parts[:len(ref.Parts)-1]
	for _, s := range p.sc.sources {
		if len(quals) > 0 && !s.matches(quals) {
			continue
		}
		for i, c := range s.cols {
			if strings.EqualFold(c.Name, name) {
				return s.offset + i, true
			}
		}
	}
	return 0, false
}

// addSource adds a FROM item to the scope and returns its producer.
func (p *selectPlan) addSource(te TableExpr) (producer, error) {
	switch te := te.(type) {
	case *TableRef:
		if te.Name.Database == "" && te.Name.Schema == "" && te.Name.Server == "" {
			if c, ok := p.st.ctes[strings.ToLower(te.Name.Name)]; ok {
				return p.addCTE(c, te.Alias)
			}
		}
		rel, ref, err := p.st.table(te.Name)
		if err != nil {
			return producer{}, err
		}
		src := &source{alias: ref.Name, name: ref, cols: rel.Columns, offset: p.sc.width}
		if te.Alias != "" {
			src.alias, src.hasAs = te.Alias, true
		}
		if err := p.checkDuplicate(src); err != nil {
			return producer{}, err
		}
		p.sc.sources = append(p.sc.sources, src)
		p.sc.width += len(rel.Columns)
		lo, n := src.offset, len(rel.Columns)
		sc := p.sc
		return producer{lo: lo, hi: lo + n, run: func(en *env) ([][]Value, error) {
			if lo == 0 && n == sc.width {
				// the only source: its rows are already full width (evaluation never writes to them)
				return append([][]Value(nil), rel.Rows...), nil
			}
			out := make([][]Value, 0, len(rel.Rows))
			for _, r := range rel.Rows {
				row := nullRow(sc)
				copy(row[lo:lo+n], r)
				out = append(out, row)
			}
			return out, nil
		}}, nil
	case *DerivedTable:
		sub, err := compileSelect(p.st, te.Select, p.sc.parent)
		if err != nil {
			return producer{}, err
		}
		src := &source{alias: te.Alias, hasAs: true, cols: sub.outCols, offset: p.sc.width}
		if err := p.checkDuplicate(src); err != nil {
			return producer{}, err
		}
		p.sc.sources = append(p.sc.sources, src)
		p.sc.width += len(sub.outCols)
		lo, n := src.offset, len(sub.outCols)
		sc := p.sc
		return producer{lo: lo, hi: lo + n, run: func(en *env) ([][]Value, error) {
			rs, err := sub.run(en.outer)
			if err != nil {
				return nil, err
			}
			out := make([][]Value, 0, len(rs.Rows))
			for _, r := range rs.Rows {
				row := nullRow(sc)
				copy(row[lo:lo+n], r)
				out = append(out, row)
			}
			return out, nil
		}}, nil
	case *Join:
		left, err := p.addSource(te.Left)
		if err != nil {
			return producer{}, err
		}
		right, err := p.addSource(te.Right)
		if err != nil {
			return producer{}, err
		}
		var on *cexpr
		var pairs []eqPair
		if te.On != nil {
			if hasAggregate(te.On) {
				return producer{}, NewError(4101, 15, 1, "Aggregates on the right side of an APPLY operator cannot reference columns from the left side.")
			}
			c := &compiler{st: p.st, sc: p.sc}
			if on, err = c.compile(te.On); err != nil {
				return producer{}, err
			}
			pairs = p.equiPairs(te.On, left, right)
		}
		kind := te.Kind
		width := func() int { return p.sc.width }
		return producer{lo: left.lo, hi: right.hi, run: func(en *env) ([][]Value, error) {
			lrows, err := left.run(en)
			if err != nil {
				return nil, err
			}
			rrows, err := right.run(en)
			if err != nil {
				return nil, err
			}
			// candidates(l) lists the right rows that may match l: all of them, or with an equality
			// between a left and a right column, those with an equal key (a hash join).
			var index map[string][]int
			all := make([]int, len(rrows))
			for j := range all {
				all[j] = j
			}
			if len(pairs) > 0 {
				index = make(map[string][]int, len(rrows))
				for j, r := range rrows {
					if k, ok := joinKey(r, pairs, false); ok {
						index[k] = append(index[k], j)
					}
				}
			} else if len(lrows)*len(rrows) > maxRows {
				return nil, errTooManyRows
			}
			var out [][]Value
			rightMatched := make([]bool, len(rrows))
			scratch := make([]Value, width())
			ev := &env{ctx: en.ctx, st: en.st, outer: en.outer, row: scratch}
			for i, l := range lrows {
				if i%256 == 0 {
					if err := en.ctx.Err(); err != nil {
						return nil, err
					}
				}
				cands := all
				if index != nil {
					k, ok := joinKey(l, pairs, true)
					if !ok {
						cands = nil
					} else {
						cands = index[k]
					}
				}
				matched := false
				for _, j := range cands {
					r := rrows[j]
					copy(scratch, l)
					copy(scratch[right.lo:right.hi], r[right.lo:right.hi])
					if on != nil {
						b, err := evalBool(ev, on)
						if err != nil {
							return nil, err
						}
						if b != triTrue {
							continue
						}
					}
					matched = true
					rightMatched[j] = true
					out = append(out, append([]Value(nil), scratch...))
					if len(out) > maxRows {
						return nil, errTooManyRows
					}
				}
				if !matched && (kind == JoinLeft || kind == JoinFull) {
					out = append(out, append([]Value(nil), l...))
				}
			}
			if kind == JoinRight || kind == JoinFull {
				for j, r := range rrows {
					if !rightMatched[j] {
						out = append(out, append([]Value(nil), r...))
					}
				}
			}
			return out, nil
		}}, nil
	}
	return producer{}, ErrSyntax("FROM")
}

// addCTE adds a common table expression as a source, like a derived table. A CTE cannot see
// itself (recursive CTEs are not supported): inside its own definition its name is unknown.
func (p *selectPlan) addCTE(c *CTE, alias string) (producer, error) {
	key := strings.ToLower(c.Name)
	delete(p.st.ctes, key)
	sub, err := compileSelect(p.st, c.Select, nil)
	p.st.ctes[key] = c
	if err != nil {
		return producer{}, err
	}
	cols := append([]Column(nil), sub.outCols...)
	if len(c.Columns) > 0 {
		if len(c.Columns) != len(cols) {
			return producer{}, NewError(8158, 16, 1, "'%s' has more columns than were specified in the column list.", c.Name)
		}
		for i := range cols {
			cols[i].Name = c.Columns[i]
		}
	}
	for i, col := range cols {
		if col.Name == "" {
			return producer{}, NewError(8155, 16, 2, "No column name was specified for column %d of '%s'.", i+1, c.Name)
		}
	}
	if alias == "" {
		alias = c.Name
	}
	src := &source{alias: alias, hasAs: true, cols: cols, offset: p.sc.width}
	if err := p.checkDuplicate(src); err != nil {
		return producer{}, err
	}
	p.sc.sources = append(p.sc.sources, src)
	p.sc.width += len(cols)
	lo, n := src.offset, len(cols)
	sc := p.sc
	return producer{lo: lo, hi: lo + n, run: func(en *env) ([][]Value, error) {
		rs, err := sub.run(nil)
		if err != nil {
			return nil, err
		}
		out := make([][]Value, 0, len(rs.Rows))
		for _, r := range rs.Rows {
			row := nullRow(sc)
			copy(row[lo:lo+n], r)
			out = append(out, row)
		}
		return out, nil
	}}, nil
}

func (p *selectPlan) checkDuplicate(src *source) error {
	for _, s := range p.sc.sources {
		if strings.EqualFold(s.alias, src.alias) && (s.hasAs || src.hasAs || strings.EqualFold(s.name.Schema, src.name.Schema)) {
			return NewError(1011, 16, 1, "The correlation name '%s' is specified multiple times in a FROM clause.", src.alias)
		}
	}
	return nil
}

func nullRow(sc *scope) []Value {
	row := make([]Value, sc.width)
	for _, s := range sc.sources {
		for i, c := range s.cols {
			row[s.offset+i] = Null(c.Type)
		}
	}
	return row
}

// compileUnion compiles `a UNION [ALL] b …`: every member alone, the result columns named after the
// first member and typed by precedence, ORDER BY resolved against the result columns.
func compileUnion(st *stmtCtx, s *SelectStmt, parent *scope) (*selectPlan, error) {
	p := &selectPlan{st: st, sc: &scope{parent: parent}}
	for cur := s; cur != nil; cur = cur.Union {
		core := *cur
		core.Union, core.OrderBy = nil, nil
		m, err := compileSelect(st, &core, parent)
		if err != nil {
			return nil, err
		}
		if len(m.assigns) > 0 {
			return nil, NewError(141, 15, 1, "A SELECT statement that assigns a value to a variable must not be combined with data-retrieval operations.")
		}
		if len(p.members) > 0 {
			if len(m.outCols) != len(p.outCols) {
				return nil, NewError(205, 16, 1, "All queries combined using a UNION, INTERSECT or EXCEPT operator must have an equal number of expressions in their target lists.")
			}
			for i, t := range m.rawTypes {
				if !compatible(p.rawTypes[i], t) {
					return nil, ErrOperandClash(p.rawTypes[i], t)
				}
				p.rawTypes[i] = commonType(p.rawTypes[i], t)
			}
		} else {
			p.outCols = append([]Column(nil), m.outCols...)
			p.rawTypes = append([]Type(nil), m.rawTypes...)
		}
		p.members = append(p.members, m)
		if cur.Union != nil {
			p.memberAll = append(p.memberAll, cur.UnionAll)
		}
	}
	for i, t := range p.rawTypes {
		if t.Kind == KindUnknown {
			t = TypeInt
		}
		p.outCols[i].Type = t
	}
	for _, o := range s.OrderBy {
		k := orderKey{outIdx: -1, desc: o.Desc}
		switch e := o.Expr.(type) {
		case *Literal:
			if n := int(e.Val.i); e.Val.T.IsInteger() && n >= 1 && n <= len(p.outCols) {
				k.outIdx = n - 1
			}
		case *ColumnRef:
			for i, c := range p.outCols {
				if strings.EqualFold(c.Name, e.Parts[len(e.Parts)-1]) {
					k.outIdx = i
					break
				}
			}
		}
		if k.outIdx < 0 {
			return nil, NewError(104, 16, 1, "ORDER BY items must appear in the select list if the statement contains a UNION, INTERSECT or EXCEPT operator.")
		}
		p.order = append(p.order, k)
	}
	return p, nil
}

// runUnion runs every member and combines their rows; UNION (without ALL) removes duplicates of
// everything combined so far.
func (p *selectPlan) runUnion(outer *env) (*ResultSet, error) {
	var rows [][]Value
	for i, m := range p.members {
		rs, err := m.run(outer)
		if err != nil {
			return nil, err
		}
		for _, r := range rs.Rows {
			row := make([]Value, len(r))
			for j, v := range r {
				if row[j], err = Convert(v, p.outCols[j].Type); err != nil {
					return nil, err
				}
			}
			rows = append(rows, row)
		}
		if i > 0 && !p.memberAll[i-1] {
			seen := map[string]bool{}
			uniq := rows[:0]
			for _, r := range rows {
				if k := rowKey(r); !seen[k] {
					seen[k] = true
					uniq = append(uniq, r)
				}
			}
			rows = uniq
		}
	}
	var sortErr error
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range p.order {
			n, err := compareNullsFirst(rows[i][k.outIdx], rows[j][k.outIdx])
			if err != nil && sortErr == nil {
				sortErr = err
			}
			if k.desc {
				n = -n
			}
			if n != 0 {
				return n < 0
			}
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	return &ResultSet{Columns: p.outCols, Rows: rows}, nil
}

// compareNullsFirst orders values as ORDER BY does: NULL before any value.
func compareNullsFirst(a, b Value) (int, error) {
	switch {
	case a.Null && b.Null:
		return 0, nil
	case a.Null:
		return -1, nil
	case b.Null:
		return 1, nil
	}
	return Compare(a, b)
}

// run executes the plan. outer is the enclosing row environment (nil at top level).
func (p *selectPlan) run(outer *env) (*ResultSet, error) {
	if p.members != nil {
		return p.runUnion(outer)
	}
	ctx := p.st.ctx
	en := &env{ctx: ctx, st: p.st, outer: outer}
	// FROM: cross product of the comma-separated items
	rows := [][]Value{nullRow(p.sc)}
	if len(p.from) == 1 {
		var err error
		if rows, err = p.from[0].run(en); err != nil {
			return nil, err
		}
	}
	for _, pr := range p.from {
		if len(p.from) == 1 {
			break
		}
		part, err := pr.run(en)
		if err != nil {
			return nil, err
		}
		if len(rows)*len(part) > maxRows {
			return nil, errTooManyRows
		}
		next := make([][]Value, 0, len(rows)*len(part))
		for i, r := range rows {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			for _, q := range part {
				row := append([]Value(nil), r...)
				copy(row[pr.lo:pr.hi], q[pr.lo:pr.hi])
				next = append(next, row)
			}
		}
		rows = next
	}
	if p.where != nil {
		kept := rows[:0]
		for i, r := range rows {
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			en.row = r
			b, err := evalBool(en, p.where)
			if err != nil {
				return nil, err
			}
			if b == triTrue {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	type outRow struct {
		vals []Value
		keys []Value
	}
	var out []outRow
	emit := func(e *env) error {
		o := outRow{vals: make([]Value, len(p.outExprs))}
		for i, x := range p.outExprs {
			v, err := x.eval(e)
			if err != nil {
				return err
			}
			if o.vals[i], err = Convert(v, p.outCols[i].Type); err != nil {
				return err
			}
		}
		for _, k := range p.order {
			if k.outIdx >= 0 {
				o.keys = append(o.keys, o.vals[k.outIdx])
				continue
			}
			v, err := k.expr.eval(e)
			if err != nil {
				return err
			}
			o.keys = append(o.keys, v)
		}
		out = append(out, o)
		return nil
	}
	if p.agg != nil {
		groups, err := p.group(en, rows)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			ge := &env{ctx: ctx, st: p.st, outer: outer, row: g.rep, aggs: make([]Value, len(p.agg.specs))}
			for i, spec := range p.agg.specs {
				if ge.aggs[i], err = computeAgg(spec, ge, g.rows); err != nil {
					return nil, err
				}
			}
			if p.having != nil {
				b, err := evalBool(ge, p.having)
				if err != nil {
					return nil, err
				}
				if b != triTrue {
					continue
				}
			}
			if err := emit(ge); err != nil {
				return nil, err
			}
		}
	} else {
		var ranks [][]Value
		if p.win != nil && len(p.win.specs) > 0 {
			var err error
			if ranks, err = rankRows(en, p.win.specs, rows); err != nil {
				return nil, err
			}
		}
		for i, r := range rows {
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			en.row = r
			if ranks != nil {
				en.win = ranks[i]
			}
			if err := emit(en); err != nil {
				return nil, err
			}
		}
	}
	if p.distinct {
		var uniq []outRow
		seen := map[string]bool{}
		for _, o := range out {
			k := rowKey(o.vals)
			if !seen[k] {
				seen[k] = true
				uniq = append(uniq, o)
			}
		}
		out = uniq
	}
	if len(p.order) > 0 {
		var sortErr error
		sort.SliceStable(out, func(i, j int) bool {
			for k, ok := range p.order {
				n, err := compareNullsFirst(out[i].keys[k], out[j].keys[k])
				if err != nil && sortErr == nil {
					sortErr = err
				}
				if ok.desc {
					n = -n
				}
				if n != 0 {
					return n < 0
				}
			}
			return false
		})
		if sortErr != nil {
			return nil, sortErr
		}
	}
	if p.offset != nil {
		n, err := p.rowCount(p.offset, outer, "offset specified in a OFFSET")
		if err != nil {
			return nil, err
		}
		out = out[min(n, int64(len(out))):]
	}
	if p.fetch != nil {
		n, err := p.rowCount(p.fetch, outer, "number of rows provided for a FETCH")
		if err != nil {
			return nil, err
		}
		if int64(len(out)) > n {
			out = out[:n]
		}
	}
	if p.top != nil {
		tv, err := p.top.eval(&env{ctx: ctx, st: p.st, outer: outer})
		if err != nil {
			return nil, err
		}
		n, err := Convert(tv, TypeBigInt)
		if err != nil || n.Null || n.i < 0 {
			return nil, NewError(1060, 16, 1, "The number of rows provided for a TOP or FETCH clauses row count parameter must be an integer.")
		}
		if int64(len(out)) > n.i {
			out = out[:n.i]
		}
	}
	rs := &ResultSet{Columns: p.outCols, Rows: make([][]Value, len(out))}
	for i, o := range out {
		rs.Rows[i] = o.vals
	}
	return rs, nil
}

type group struct {
	rep  []Value
	rows [][]Value
}

func (p *selectPlan) group(en *env, rows [][]Value) ([]*group, error) {
	if !p.agg.groupBy {
		g := &group{rows: rows, rep: nullRow(p.sc)}
		if len(rows) > 0 {
			g.rep = rows[0]
		}
		return []*group{g}, nil
	}
	var groups []*group
	index := map[string]*group{}
	for _, r := range rows {
		en.row = r
		keys := make([]Value, len(p.groupKeys))
		for i, k := range p.groupKeys {
			v, err := k.eval(en)
			if err != nil {
				return nil, err
			}
			keys[i] = v
		}
		key := rowKey(keys)
		g, ok := index[key]
		if !ok {
			g = &group{rep: r}
			index[key] = g
			groups = append(groups, g)
		}
		g.rows = append(g.rows, r)
	}
	return groups, nil
}

// rowKey is an equality key for DISTINCT and GROUP BY (strings compared case-insensitively).
func rowKey(vals []Value) string {
	var b strings.Builder
	for _, v := range vals {
		if v.Null {
			b.WriteString("\x00N")
		} else if v.T.IsString() {
			b.WriteString("\x00S" + foldString(v.s))
		} else if v.T.IsInteger() {
			b.WriteString("\x00D" + strconv.FormatInt(v.i, 10))
		} else if v.T.IsNumber() {
			r, err := toRat(v)
			if err == nil {
				b.WriteString("\x00D" + r.RatString())
			}
		} else {
			b.WriteString("\x00V" + v.Text())
		}
	}
	return b.String()
}

// eqPair is an equality between a left-side and a right-side column of a join's ON condition.
type eqPair struct{ l, r int }

// equiPairs finds the `left.col = right.col` conjuncts of an ON condition whose column types hash
// alike, for a hash join. The full condition is still evaluated on every candidate pair.
func (p *selectPlan) equiPairs(on Expr, left, right producer) []eqPair {
	var pairs []eqPair
	var walk func(e Expr)
	walk = func(e Expr) {
		b, ok := e.(*Binary)
		if !ok {
			return
		}
		if b.Op == "AND" {
			walk(b.L)
			walk(b.R)
			return
		}
		if b.Op != "=" {
			return
		}
		lc, ok1 := b.L.(*ColumnRef)
		rc, ok2 := b.R.(*ColumnRef)
		if !ok1 || !ok2 {
			return
		}
		a, okA := p.resolveLocal(lc)
		c, okC := p.resolveLocal(rc)
		if !okA || !okC {
			return
		}
		if a >= right.lo && a < right.hi && c >= left.lo && c < left.hi {
			a, c = c, a
		}
		if a < left.lo || a >= left.hi || c < right.lo || c >= right.hi {
			return
		}
		if !sameHashFamily(p.colType(a), p.colType(c)) {
			return
		}
		pairs = append(pairs, eqPair{l: a, r: c})
	}
	walk(on)
	return pairs
}

func (p *selectPlan) colType(pos int) Type {
	for _, s := range p.sc.sources {
		if pos >= s.offset && pos < s.offset+len(s.cols) {
			return s.cols[pos-s.offset].Type
		}
	}
	return Type{}
}

// sameHashFamily reports whether equal values of the two types have equal rowKeys.
func sameHashFamily(a, b Type) bool {
	switch {
	case a.IsString() && b.IsString():
		return true
	case a.IsNumber() && b.IsNumber():
		return a.Kind != KindFloat && b.Kind != KindFloat
	case a.Kind == KindUniqueIdentifier && b.Kind == KindUniqueIdentifier:
		return true
	}
	return false
}

// joinKey is the hash key of a row's join columns; ok is false when one is NULL (never equal).
func joinKey(row []Value, pairs []eqPair, left bool) (string, bool) {
	vals := make([]Value, len(pairs))
	for i, pr := range pairs {
		pos := pr.r
		if left {
			pos = pr.l
		}
		if pos >= len(row) || row[pos].Null {
			return "", false
		}
		vals[i] = row[pos]
	}
	return rowKey(vals), true
}

// maxRows bounds the rows a join or cross product may produce or try: the lab's tables are small,
// and a runaway query must fail rather than exhaust memory.
const maxRows = 4_000_000

var errTooManyRows = NewError(50000, 16, 1, "The lab refuses a join of more than 4000000 row combinations.")

// errNoTable reports whether err means the backend has no such object.
func errNoTable(err error) bool { return errors.Is(err, ErrNoSuchTable) }
