package engine

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// reserved are T-SQL reserved keywords the parser relies on (a subset of the documented list,
// sql-docs reserved-keywords-transact-sql.md). They never become implicit aliases or column names.
var reserved = map[string]bool{
	"ADD": true, "ALL": true, "ALTER": true, "AND": true, "ANY": true, "AS": true, "ASC": true,
	"BACKUP": true, "BEGIN": true, "BETWEEN": true, "BY": true, "CASE": true, "COMMIT": true,
	"CONVERT": true, "CREATE": true, "CROSS": true, "DATABASE": true, "DECLARE": true, "DEFAULT": true,
	"DELETE": true, "DESC": true, "DISK": true, "DISTINCT": true, "DROP": true, "ELSE": true, "END": true,
	"ESCAPE": true, "EXEC": true, "EXECUTE": true, "EXISTS": true, "FROM": true, "FULL": true,
	"GROUP": true, "HAVING": true, "IF": true, "IN": true, "INNER": true, "INSERT": true, "INTO": true,
	"IS": true, "JOIN": true, "KILL": true, "LEFT": true, "LIKE": true, "NOT": true, "NULL": true,
	"ON": true, "OR": true, "ORDER": true, "OUTER": true, "PRINT": true, "RESTORE": true, "RETURN": true,
	"RIGHT": true, "ROLLBACK": true, "SELECT": true, "SET": true, "TABLE": true, "THEN": true, "TO": true,
	"TOP": true, "TRAN": true, "TRANSACTION": true, "UNION": true, "UPDATE": true, "USE": true,
	"VALUES": true, "WAITFOR": true, "WHEN": true, "WHERE": true, "WHILE": true, "WITH": true, "OPTION": true,
	"FOR": true, "COLLATE": true, "OFFSET": true, "FETCH": true, "OVER": true,
}

// maxDepth bounds expression nesting so hostile input cannot exhaust the stack.
const maxDepth = 200

type parser struct {
	toks  []token
	pos   int
	depth int
	lines map[Statement]int // statement → line it starts on (nil: not recorded)
}

// Parse parses a batch of T-SQL statements. A syntax error is returned as *Error (102, 156, 105…);
// it never panics.
func Parse(sql string) ([]Statement, error) {
	stmts, _, err := parseBatch(sql)
	return stmts, err
}

// parseBatch parses a batch and returns, beside the statements, the line each one starts on (for
// the line number of its messages). A syntax error carries the line of the offending token.
func parseBatch(sql string) ([]Statement, map[Statement]int, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, nil, err
	}
	p := &parser{toks: toks, lines: map[Statement]int{}}
	var out []Statement
	for {
		for p.isOp(";") {
			p.pos++
		}
		if p.peek().kind == tokEOF {
			return out, p.lines, nil
		}
		st, err := p.statement()
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Line == 0 {
				line := p.peek().line
				if p.peek().kind == tokEOF && p.pos > 0 {
					line = p.toks[p.pos-1].line
				}
				c := *e
				c.Line = int32(line)
				return nil, nil, &c
			}
			return nil, nil, err
		}
		out = append(out, st)
	}
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) isKwAt(n int, kw string) bool {
	t := p.peekAt(n)
	return t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tokOp && t.text == op
}

func (p *parser) acceptKw(kw string) bool {
	if p.isKw(kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) error {
	if !p.acceptKw(kw) {
		return p.errHere()
	}
	return nil
}

func (p *parser) expectOp(op string) error {
	if !p.acceptOp(op) {
		return p.errHere()
	}
	return nil
}

// errHere is the syntax error SQL Server gives at the current token: 156 for a keyword, 102 otherwise;
// at the end of the batch it names the last token.
func (p *parser) errHere() error {
	t := p.peek()
	if t.kind == tokEOF {
		if p.pos == 0 {
			return ErrSyntax("")
		}
		t = p.toks[p.pos-1]
	}
	switch t.kind {
	case tokIdent:
		if reserved[t.upper()] {
			return ErrSyntaxKeyword(strings.ToLower(t.text))
		}
		return ErrSyntax(t.text)
	case tokString:
		return ErrSyntax(t.text)
	case tokNString:
		return ErrSyntax(t.text)
	}
	return ErrSyntax(t.text)
}

// ident reads a (non-reserved or quoted) identifier.
func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind == tokQuoted || (t.kind == tokIdent && !reserved[t.upper()]) {
		p.pos++
		return t.text, nil
	}
	return "", p.errHere()
}

// identOrKeyword reads any identifier, reserved words included (used after '.' and for options).
func (p *parser) identOrKeyword() (string, error) {
	t := p.peek()
	if t.kind == tokQuoted || t.kind == tokIdent {
		p.pos++
		return t.text, nil
	}
	return "", p.errHere()
}

// objectName reads a one- to four-part name; empty middle parts (msdb..t) are allowed.
func (p *parser) objectName() (ObjectName, error) {
	var parts []string
	first, err := p.ident()
	if err != nil {
		return ObjectName{}, err
	}
	parts = append(parts, first)
	for p.isOp(".") && len(parts) < 4 {
		p.pos++
		if p.isOp(".") {
			parts = append(parts, "")
			continue
		}
		part, err := p.identOrKeyword()
		if err != nil {
			return ObjectName{}, err
		}
		parts = append(parts, part)
	}
	if p.isOp(".") {
		return ObjectName{}, p.errHere()
	}
	var o ObjectName
	switch len(parts) {
	case 1:
		o.Name = parts[0]
	case 2:
		o.Schema, o.Name = parts[0], parts[1]
	case 3:
		o.Database, o.Schema, o.Name = parts[0], parts[1], parts[2]
	case 4:
		o.Server, o.Database, o.Schema, o.Name = parts[0], parts[1], parts[2], parts[3]
	}
	if o.Name == "" {
		return ObjectName{}, p.errHere()
	}
	return o, nil
}

func (p *parser) statement() (Statement, error) {
	line := p.peek().line
	st, err := p.statementAt()
	if err == nil && p.lines != nil {
		p.lines[st] = line
	}
	return st, err
}

func (p *parser) statementAt() (Statement, error) {
	t := p.peek()
	if t.kind == tokOp && t.text == "(" {
		// (SELECT …) as a statement
		return p.selectStmt()
	}
	if t.kind != tokIdent {
		return nil, p.errHere()
	}
	switch t.upper() {
	case "SELECT":
		return p.selectStmt()
	case "WITH":
		return p.withStmt()
	case "USE":
		p.pos++
		db, err := p.ident()
		if err != nil {
			return nil, err
		}
		return &UseStmt{Database: db}, nil
	case "SET":
		return p.setStmt()
	case "DECLARE":
		return p.declareStmt()
	case "PRINT":
		p.pos++
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &PrintStmt{Expr: e}, nil
	case "WAITFOR":
		p.pos++
		if err := p.expectKw("DELAY"); err != nil {
			return nil, err
		}
		e, err := p.primary()
		if err != nil {
			return nil, err
		}
		return &WaitForStmt{Delay: e}, nil
	case "IF":
		p.pos++
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		st := &IfStmt{Cond: cond}
		if st.Then, err = p.body(); err != nil {
			return nil, err
		}
		for p.isOp(";") {
			p.pos++
		}
		if p.acceptKw("ELSE") {
			if st.Else, err = p.body(); err != nil {
				return nil, err
			}
		}
		return st, nil
	case "RETURN":
		p.pos++
		return &ReturnStmt{}, nil
	case "BEGIN", "COMMIT", "ROLLBACK":
		p.pos++
		verb := t.upper()
		if verb == "BEGIN" && !p.isKw("TRAN") && !p.isKw("TRANSACTION") {
			if p.isKw("TRY") || p.isKw("DISTRIBUTED") {
				return nil, p.errHere()
			}
			p.pos--
			stmts, err := p.body()
			if err != nil {
				return nil, err
			}
			return &BlockStmt{Stmts: stmts}, nil
		}
		if p.acceptKw("TRAN") || p.acceptKw("TRANSACTION") || p.acceptKw("WORK") {
			if p.peek().kind == tokIdent && !reserved[p.peek().upper()] {
				p.pos++
			}
		}
		return &TransactionStmt{Verb: verb}, nil
	case "INSERT":
		return p.insertStmt()
	case "EXEC", "EXECUTE":
		p.pos++
		return p.execStmt()
	case "RESTORE":
		return p.restoreStmt()
	case "BACKUP":
		return p.backupStmt()
	case "ALTER":
		return p.alterStmt()
	case "KILL":
		p.pos++
		n := p.peek()
		if n.kind != tokNumber {
			return nil, p.errHere()
		}
		p.pos++
		v, err := strconv.Atoi(n.text)
		if err != nil {
			return nil, ErrSyntax(n.text)
		}
		return &KillStmt{SPID: v}, nil
	}
	if !reserved[t.upper()] && (p.peekAt(1).kind == tokIdent || p.peekAt(1).kind == tokString ||
		p.peekAt(1).kind == tokNString || p.peekAt(1).kind == tokVar || p.peekAt(1).kind == tokNumber ||
		p.peekAt(1).kind == tokEOF || (p.peekAt(1).kind == tokOp && (p.peekAt(1).text == "." || p.peekAt(1).text == ";"))) &&
		p.pos == 0 {
		// A batch that starts with a procedure name executes it (sql-docs execute-transact-sql.md).
		return p.execStmt()
	}
	return nil, p.errHere()
}

// withStmt parses `WITH name [(cols)] AS (SELECT …) [, …] SELECT …`.
func (p *parser) withStmt() (Statement, error) {
	p.pos++ // WITH
	var ctes []CTE
	for {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		c := CTE{Name: name}
		if p.acceptOp("(") {
			for {
				col, err := p.ident()
				if err != nil {
					return nil, err
				}
				c.Columns = append(c.Columns, col)
				if p.acceptOp(")") {
					break
				}
				if err := p.expectOp(","); err != nil {
					return nil, err
				}
			}
		}
		if err := p.expectKw("AS"); err != nil {
			return nil, err
		}
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if c.Select, err = p.selectStmt(); err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		ctes = append(ctes, c)
		if !p.acceptOp(",") {
			break
		}
	}
	if !p.isKw("SELECT") {
		return nil, p.errHere()
	}
	s, err := p.selectStmt()
	if err != nil {
		return nil, err
	}
	s.With = ctes
	return s, nil
}

// body parses the statement or BEGIN … END block of an IF/ELSE or a block.
func (p *parser) body() ([]Statement, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, NewError(191, 15, 1, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.")
	}
	for p.isOp(";") {
		p.pos++
	}
	if !p.isKw("BEGIN") || p.isKwAt(1, "TRAN") || p.isKwAt(1, "TRANSACTION") {
		st, err := p.statement()
		if err != nil {
			return nil, err
		}
		return []Statement{st}, nil
	}
	p.pos++ // BEGIN
	var out []Statement
	for {
		for p.isOp(";") {
			p.pos++
		}
		if p.acceptKw("END") {
			return out, nil
		}
		if p.peek().kind == tokEOF {
			return nil, p.errHere()
		}
		st, err := p.statement()
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
}

func (p *parser) setStmt() (Statement, error) {
	p.pos++ // SET
	if p.peek().kind == tokVar {
		name := p.next().text
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &SetVarStmt{Name: name, Expr: e}, nil
	}
	if p.peek().kind != tokIdent {
		return nil, p.errHere()
	}
	opt := p.next().upper()
	if opt == "TRANSACTION" {
		if err := p.expectKw("ISOLATION"); err != nil {
			return nil, err
		}
		if err := p.expectKw("LEVEL"); err != nil {
			return nil, err
		}
		var words []string
		for p.peek().kind == tokIdent && len(words) < 2 {
			words = append(words, p.next().upper())
		}
		if len(words) == 0 {
			return nil, p.errHere()
		}
		return &SetOptionStmt{Option: "TRANSACTION ISOLATION LEVEL", Value: strings.Join(words, " ")}, nil
	}
	// SET opt[, opt…] ON|OFF  |  SET opt value
	opts := []string{opt}
	for p.acceptOp(",") {
		o, err := p.identOrKeyword()
		if err != nil {
			return nil, err
		}
		opts = append(opts, strings.ToUpper(o))
	}
	t := p.peek()
	var val string
	switch {
	case t.kind == tokIdent || t.kind == tokNumber || t.kind == tokString || t.kind == tokNString || t.kind == tokQuoted:
		val = strings.ToUpper(t.text)
		p.pos++
	case t.kind == tokOp && t.text == "-" && p.peekAt(1).kind == tokNumber:
		p.pos++
		val = "-" + p.next().text
	default:
		return nil, p.errHere()
	}
	return &SetOptionStmt{Option: strings.Join(opts, ","), Value: val}, nil
}

func (p *parser) declareStmt() (Statement, error) {
	p.pos++
	d := &DeclareStmt{}
	for {
		if p.peek().kind != tokVar {
			return nil, p.errHere()
		}
		name := p.next().text
		p.acceptKw("AS")
		typ, err := p.dataType()
		if err != nil {
			return nil, err
		}
		v := VarDecl{Name: name, Type: typ}
		if p.acceptOp("=") {
			if v.Init, err = p.expr(); err != nil {
				return nil, err
			}
		}
		d.Vars = append(d.Vars, v)
		if !p.acceptOp(",") {
			return d, nil
		}
	}
}

// dataType parses a type name with optional (length|max) or (p,s).
func (p *parser) dataType() (Type, error) {
	t := p.peek()
	if t.kind != tokIdent && t.kind != tokQuoted {
		return Type{}, p.errHere()
	}
	p.pos++
	name := strings.ToLower(t.text)
	if name == "sys" && p.isOp(".") { // sys.sysname
		p.pos++
		n, err := p.identOrKeyword()
		if err != nil {
			return Type{}, err
		}
		name = strings.ToLower(n)
	}
	var args []int
	isMax := false
	if p.acceptOp("(") {
		for {
			a := p.peek()
			switch {
			case a.kind == tokIdent && strings.EqualFold(a.text, "max"):
				isMax = true
				p.pos++
			case a.kind == tokNumber:
				n, err := strconv.Atoi(a.text)
				if err != nil {
					return Type{}, ErrSyntax(a.text)
				}
				args = append(args, n)
				p.pos++
			default:
				return Type{}, p.errHere()
			}
			if p.acceptOp(")") {
				break
			}
			if err := p.expectOp(","); err != nil {
				return Type{}, err
			}
		}
	}
	arg := func(i, def int) int {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	strLen := func(def, limit int) (int, error) {
		if isMax {
			return MaxLength, nil
		}
		n := arg(0, def)
		if n < 1 || n > limit {
			return 0, NewError(131, 15, 2, "The size (%d) given to the type '%s' exceeds the maximum allowed for any data type (%d).", n, name, limit)
		}
		return n, nil
	}
	switch name {
	case "bit":
		return TypeBit, nil
	case "tinyint":
		return TypeTinyInt, nil
	case "smallint":
		return TypeSmallInt, nil
	case "int", "integer":
		return TypeInt, nil
	case "bigint":
		return TypeBigInt, nil
	case "float", "real":
		return TypeFloat, nil
	case "numeric", "decimal", "dec":
		prec, scale := arg(0, 18), arg(1, 0)
		if prec < 1 || prec > 38 || scale < 0 || scale > prec {
			return Type{}, NewError(2750, 16, 1, "Column or parameter #0: Specified column precision %d is greater than the maximum precision of 38.", prec)
		}
		return Numeric(prec, scale), nil
	case "nvarchar", "sysname":
		if name == "sysname" {
			return TypeSysname, nil
		}
		n, err := strLen(1, 4000)
		return NVarChar(n), err
	case "varchar":
		n, err := strLen(1, 8000)
		return VarChar(n), err
	case "char", "character":
		n, err := strLen(1, 8000)
		return Char(n), err
	case "nchar":
		n, err := strLen(1, 4000)
		return NChar(n), err
	case "datetime", "smalldatetime":
		return TypeDateTime, nil
	case "datetime2":
		s := arg(0, 7)
		if s > 7 {
			return Type{}, NewError(1002, 16, 1, "Line 1: Specified scale %d is invalid.", s)
		}
		return DateTime2(s), nil
	case "datetimeoffset":
		return DateTimeOffset(arg(0, 7)), nil
	case "date":
		return TypeDate, nil
	case "uniqueidentifier":
		return TypeUniqueIdentifier, nil
	}
	return Type{}, NewError(243, 16, 1, "Type %s is not a defined system type.", t.text)
}

func (p *parser) selectStmt() (*SelectStmt, error) {
	if p.acceptOp("(") {
		s, err := p.selectStmt()
		if err != nil {
			return nil, err
		}
		return s, p.expectOp(")")
	}
	if err := p.expectKw("SELECT"); err != nil {
		return nil, err
	}
	s := &SelectStmt{}
	if p.acceptKw("DISTINCT") {
		s.Distinct = true
	} else {
		p.acceptKw("ALL")
	}
	if p.acceptKw("TOP") {
		var err error
		if p.acceptOp("(") {
			if s.Top, err = p.expr(); err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
		} else {
			if s.Top, err = p.primary(); err != nil {
				return nil, err
			}
		}
	}
	var err error
	if s.Items, err = commaList(p, p.selectItem); err != nil {
		return nil, err
	}
	if p.acceptKw("FROM") {
		if s.From, err = commaList(p, p.tableExpr); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("WHERE") {
		if s.Where, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("GROUP") {
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		if s.GroupBy, err = commaList(p, p.expr); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("HAVING") {
		if s.Having, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("UNION") {
		s.UnionAll = p.acceptKw("ALL")
		if !p.isKw("SELECT") && !p.isOp("(") {
			return nil, p.errHere()
		}
		next, err := p.selectStmt()
		if err != nil {
			return nil, err
		}
		// the last member's ORDER BY orders the whole union
		s.Union, s.OrderBy, next.OrderBy = next, next.OrderBy, nil
		return s, nil
	}
	if p.acceptKw("ORDER") {
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		if s.OrderBy, err = p.orderItems(); err != nil {
			return nil, err
		}
		if p.acceptKw("OFFSET") {
			if s.Offset, err = p.additive(); err != nil {
				return nil, err
			}
			if !p.acceptKw("ROWS") && !p.acceptKw("ROW") {
				return nil, p.errHere()
			}
			if p.acceptKw("FETCH") {
				if !p.acceptKw("FIRST") && !p.acceptKw("NEXT") {
					return nil, p.errHere()
				}
				if s.Fetch, err = p.additive(); err != nil {
					return nil, err
				}
				if !p.acceptKw("ROWS") && !p.acceptKw("ROW") {
					return nil, p.errHere()
				}
				if err := p.expectKw("ONLY"); err != nil {
					return nil, err
				}
			}
			if s.Top != nil {
				return nil, NewError(10741, 15, 1, "A TOP can not be used in the same query or sub-query as a OFFSET.")
			}
		}
	}
	if p.acceptKw("OPTION") { // OPTION (RECOMPILE) etc.: accepted, ignored
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		for !p.isOp(")") && p.peek().kind != tokEOF {
			p.pos++
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	if p.isKw("UNION") || p.isKw("EXCEPT") || p.isKw("INTERSECT") || p.isKw("FOR") {
		// ORDER BY is only allowed at the end of a union
		return nil, p.errHere()
	}
	return s, nil
}

func (p *parser) selectItem() (SelectItem, error) {
	if p.acceptOp("*") {
		return SelectItem{Star: true}, nil
	}
	// t.* / schema.t.*
	if (p.peek().kind == tokIdent || p.peek().kind == tokQuoted) && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "." {
		save := p.pos
		var quals []string
		for (p.peek().kind == tokIdent || p.peek().kind == tokQuoted) && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "." {
			quals = append(quals, p.next().text)
			p.pos++
		}
		if p.acceptOp("*") {
			return SelectItem{Star: true, StarOf: quals[len(quals)-1]}, nil
		}
		p.pos = save
	}
	// @v = expr
	if p.peek().kind == tokVar && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "=" {
		name := p.next().text
		p.pos++
		e, err := p.expr()
		if err != nil {
			return SelectItem{}, err
		}
		return SelectItem{Expr: e, AssignVar: name}, nil
	}
	// alias = expr
	if (p.peek().kind == tokQuoted || (p.peek().kind == tokIdent && !reserved[p.peek().upper()]) || p.peek().kind == tokString) &&
		p.peekAt(1).kind == tokOp && p.peekAt(1).text == "=" {
		alias := p.next().text
		p.pos++
		e, err := p.expr()
		if err != nil {
			return SelectItem{}, err
		}
		return SelectItem{Expr: e, Alias: alias}, nil
	}
	e, err := p.expr()
	if err != nil {
		return SelectItem{}, err
	}
	item := SelectItem{Expr: e}
	if p.acceptKw("AS") {
		t := p.peek()
		if t.kind == tokString || t.kind == tokNString || t.kind == tokQuoted || t.kind == tokIdent {
			p.pos++
			item.Alias = t.text
		} else {
			return SelectItem{}, p.errHere()
		}
	} else if t := p.peek(); t.kind == tokQuoted || t.kind == tokString || (t.kind == tokIdent && !reserved[t.upper()]) {
		p.pos++
		item.Alias = t.text
	}
	return item, nil
}

func (p *parser) tableExpr() (TableExpr, error) {
	left, err := p.tablePrimary()
	if err != nil {
		return nil, err
	}
	for {
		kind := JoinInner
		switch {
		case p.isKw("JOIN"):
			p.pos++
		case p.isKw("INNER") && p.isKwAt(1, "JOIN"):
			p.pos += 2
		case (p.isKw("LEFT") || p.isKw("RIGHT") || p.isKw("FULL")):
			kind = map[string]JoinKind{"LEFT": JoinLeft, "RIGHT": JoinRight, "FULL": JoinFull}[p.next().upper()]
			p.acceptKw("OUTER")
			if err := p.expectKw("JOIN"); err != nil {
				return nil, err
			}
		case p.isKw("CROSS") && p.isKwAt(1, "JOIN"):
			p.pos += 2
			right, err := p.tablePrimary()
			if err != nil {
				return nil, err
			}
			left = &Join{Left: left, Right: right, Kind: JoinCross}
			continue
		default:
			return left, nil
		}
		right, err := p.tablePrimary()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("ON"); err != nil {
			return nil, err
		}
		on, err := p.expr()
		if err != nil {
			return nil, err
		}
		left = &Join{Left: left, Right: right, Kind: kind, On: on}
	}
}

func (p *parser) tablePrimary() (TableExpr, error) {
	if p.isOp("(") {
		if p.isKwAt(1, "SELECT") {
			p.pos++
			sub, err := p.selectStmt()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			p.acceptKw("AS")
			alias, err := p.ident()
			if err != nil {
				return nil, err
			}
			return &DerivedTable{Select: sub, Alias: alias}, nil
		}
		p.pos++
		te, err := p.tableExpr()
		if err != nil {
			return nil, err
		}
		return te, p.expectOp(")")
	}
	name, err := p.objectName()
	if err != nil {
		return nil, err
	}
	ref := &TableRef{Name: name}
	if p.acceptKw("AS") {
		if ref.Alias, err = p.ident(); err != nil {
			return nil, err
		}
	} else if t := p.peek(); t.kind == tokQuoted || (t.kind == tokIdent && !reserved[t.upper()]) {
		ref.Alias = p.next().text
	}
	if p.isKw("WITH") && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "(" { // table hints: WITH (NOLOCK)
		p.pos += 2
		for !p.isOp(")") && p.peek().kind != tokEOF {
			p.pos++
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	}
	return ref, nil
}

func (p *parser) insertStmt() (Statement, error) {
	p.pos++
	p.acceptKw("INTO")
	name, err := p.objectName()
	if err != nil {
		return nil, err
	}
	ins := &InsertStmt{Table: name}
	if p.isOp("(") && !p.isKwAt(1, "SELECT") {
		p.pos++
		for {
			c, err := p.ident()
			if err != nil {
				return nil, err
			}
			ins.Columns = append(ins.Columns, c)
			if p.acceptOp(")") {
				break
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case p.acceptKw("VALUES"):
		for {
			if err := p.expectOp("("); err != nil {
				return nil, err
			}
			var row []Expr
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				row = append(row, e)
				if p.acceptOp(")") {
					break
				}
				if err := p.expectOp(","); err != nil {
					return nil, err
				}
			}
			ins.Rows = append(ins.Rows, row)
			if !p.acceptOp(",") {
				break
			}
		}
	case p.isKw("SELECT") || p.isOp("("):
		if ins.Select, err = p.selectStmt(); err != nil {
			return nil, err
		}
	case p.isKw("DEFAULT"):
		p.pos++
		if err := p.expectKw("VALUES"); err != nil {
			return nil, err
		}
		ins.Rows = [][]Expr{{}}
	default:
		return nil, p.errHere()
	}
	return ins, nil
}

func (p *parser) execStmt() (Statement, error) {
	ex := &ExecStmt{}
	if p.peek().kind == tokVar && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "=" {
		ex.ReturnVar = p.next().text
		p.pos++
	}
	if p.isOp("(") { // EXEC ('sql') is not supported
		return nil, p.errHere()
	}
	name, err := p.objectName()
	if err != nil {
		return nil, err
	}
	ex.Proc = name
	if p.peek().kind == tokEOF || p.isOp(";") || p.startsStatement() {
		return ex, nil
	}
	for {
		var arg ProcArg
		if p.peek().kind == tokVar && p.peekAt(1).kind == tokOp && p.peekAt(1).text == "=" {
			arg.Name = p.next().text
			p.pos++
		}
		t := p.peek()
		switch {
		case t.kind == tokIdent && strings.EqualFold(t.text, "DEFAULT"):
			p.pos++
			arg.expr = &Literal{Val: Value{Null: true}}
		case t.kind == tokIdent && !reserved[t.upper()] && !isFunctionStart(p):
			// a bare identifier is a string argument
			p.pos++
			arg.expr = &Literal{Val: NStr(t.text)}
		case t.kind == tokQuoted:
			p.pos++
			arg.expr = &Literal{Val: NStr(t.text)}
		default:
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			arg.expr = e
		}
		if p.acceptKw("OUTPUT") || p.acceptKw("OUT") {
			arg.Output = true
		}
		ex.Args = append(ex.Args, arg)
		if !p.acceptOp(",") {
			break
		}
	}
	return ex, nil
}

func isFunctionStart(p *parser) bool {
	return p.peekAt(1).kind == tokOp && p.peekAt(1).text == "("
}

// startsStatement reports whether the current token begins a new statement (batches may omit ';').
func (p *parser) startsStatement() bool {
	t := p.peek()
	if t.kind != tokIdent {
		return false
	}
	switch t.upper() {
	case "SELECT", "USE", "SET", "DECLARE", "PRINT", "INSERT", "EXEC", "EXECUTE", "RESTORE", "BACKUP",
		"ALTER", "KILL", "WAITFOR", "BEGIN", "COMMIT", "ROLLBACK", "IF", "ELSE", "END", "RETURN":
		return true
	}
	return false
}

// diskList parses `DISK = expr [, DISK = expr…]`.
func (p *parser) diskList() ([]Expr, error) {
	var out []Expr
	for {
		if !p.acceptKw("DISK") && !p.acceptKw("URL") {
			return nil, p.errHere()
		}
		if err := p.expectOp("="); err != nil {
			return nil, err
		}
		e, err := p.primary()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if !p.isOp(",") || (!p.isKwAt(1, "DISK") && !p.isKwAt(1, "URL")) {
			return out, nil
		}
		p.pos++
	}
}

// withOptions parses `WITH opt [= value] [, …]` for BACKUP and RESTORE.
func (p *parser) withOptions() ([]optionExpr, error) {
	if !p.acceptKw("WITH") {
		return nil, nil
	}
	var out []optionExpr
	for {
		name, err := p.identOrKeyword()
		if err != nil {
			return nil, err
		}
		o := optionExpr{name: strings.ToUpper(name)}
		if p.acceptOp("=") {
			if o.value, err = p.primary(); err != nil {
				return nil, err
			}
		} else if o.name == "MOVE" {
			if o.value, err = p.primary(); err != nil {
				return nil, err
			}
			if err := p.expectKw("TO"); err != nil {
				return nil, err
			}
			if o.target, err = p.primary(); err != nil {
				return nil, err
			}
		}
		out = append(out, o)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

func (p *parser) dbNameArg() (string, error) {
	if p.peek().kind == tokVar {
		return "", p.errHere() // RESTORE @var is not supported by the lab
	}
	return p.ident()
}

func (p *parser) restoreStmt() (Statement, error) {
	p.pos++
	r := &RestoreStmt{}
	kw := p.peek().upper()
	switch kw {
	case "DATABASE", "LOG":
		p.pos++
		r.Kind = RestoreDatabase
		if kw == "LOG" {
			r.Kind = RestoreLog
		}
		db, err := p.dbNameArg()
		if err != nil {
			return nil, err
		}
		r.Database = db
		if p.acceptKw("FROM") {
			if r.diskExpr, err = p.diskList(); err != nil {
				return nil, err
			}
		} else if r.Kind == RestoreLog {
			return nil, p.errHere()
		}
	case "HEADERONLY", "FILELISTONLY", "VERIFYONLY":
		p.pos++
		r.Kind = map[string]RestoreKind{"HEADERONLY": RestoreHeaderOnly, "FILELISTONLY": RestoreFileListOnly, "VERIFYONLY": RestoreVerifyOnly}[kw]
		if err := p.expectKw("FROM"); err != nil {
			return nil, err
		}
		var err error
		if r.diskExpr, err = p.diskList(); err != nil {
			return nil, err
		}
	default:
		return nil, p.errHere()
	}
	var err error
	r.optExprs, err = p.withOptions()
	return r, err
}

func (p *parser) backupStmt() (Statement, error) {
	p.pos++
	b := &BackupStmt{}
	switch {
	case p.acceptKw("LOG"):
		b.Log = true
	case p.acceptKw("DATABASE"):
	default:
		return nil, p.errHere()
	}
	db, err := p.dbNameArg()
	if err != nil {
		return nil, err
	}
	b.Database = db
	if err := p.expectKw("TO"); err != nil {
		return nil, err
	}
	if b.diskExpr, err = p.diskList(); err != nil {
		return nil, err
	}
	b.optExprs, err = p.withOptions()
	return b, err
}

func (p *parser) alterStmt() (Statement, error) {
	p.pos++
	if err := p.expectKw("DATABASE"); err != nil {
		return nil, err
	}
	db, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expectKw("SET"); err != nil {
		return nil, err
	}
	a := &AlterDatabaseStmt{Database: db}
	opt, err := p.identOrKeyword()
	if err != nil {
		return nil, err
	}
	a.Option = strings.ToUpper(opt)
	switch a.Option {
	case "PARTNER", "WITNESS":
		if p.acceptOp("=") {
			t := p.peek()
			if t.kind != tokString && t.kind != tokNString {
				return nil, p.errHere()
			}
			p.pos++
			a.Action, a.Value = "ADDRESS", t.text
			return a, nil
		}
		act, err := p.identOrKeyword()
		if err != nil {
			return nil, err
		}
		a.Action = strings.ToUpper(act)
		switch a.Action {
		case "FAILOVER", "FORCE_SERVICE_ALLOW_DATA_LOSS", "SUSPEND", "RESUME":
			if a.Option == "WITNESS" {
				return nil, ErrSyntax(act)
			}
		case "OFF":
		case "SAFETY":
			if a.Option == "WITNESS" {
				return nil, ErrSyntax(act)
			}
			v, err := p.identOrKeyword()
			if err != nil {
				return nil, err
			}
			a.Value = strings.ToUpper(v)
			if a.Value != "FULL" && a.Value != "OFF" {
				return nil, ErrSyntax(v)
			}
		case "TIMEOUT":
			if a.Option == "WITNESS" {
				return nil, ErrSyntax(act)
			}
			n := p.peek()
			if n.kind != tokNumber {
				return nil, p.errHere()
			}
			p.pos++
			if a.Timeout, err = strconv.Atoi(n.text); err != nil {
				return nil, ErrSyntax(n.text)
			}
		default:
			return nil, ErrSyntax(act)
		}
		return a, nil
	case "OFFLINE", "ONLINE", "EMERGENCY", "SINGLE_USER", "RESTRICTED_USER", "MULTI_USER", "READ_ONLY", "READ_WRITE":
	case "RECOVERY":
		v, err := p.identOrKeyword()
		if err != nil {
			return nil, err
		}
		a.Action = strings.ToUpper(v)
		if a.Action != "FULL" && a.Action != "SIMPLE" && a.Action != "BULK_LOGGED" {
			return nil, ErrSyntax(v)
		}
	default:
		return nil, ErrSyntax(opt)
	}
	if p.acceptKw("WITH") {
		switch {
		case p.acceptKw("ROLLBACK"):
			switch {
			case p.acceptKw("IMMEDIATE"):
				a.Termination = "ROLLBACK IMMEDIATE"
			case p.acceptKw("AFTER"):
				n := p.peek()
				if n.kind != tokNumber {
					return nil, p.errHere()
				}
				p.pos++
				a.Termination = "ROLLBACK AFTER"
				if a.RollbackAfter, err = strconv.Atoi(n.text); err != nil {
					return nil, ErrSyntax(n.text)
				}
				p.acceptKw("SECONDS")
			default:
				return nil, p.errHere()
			}
		case p.acceptKw("NO_WAIT"):
			a.Termination = "NO_WAIT"
		default:
			return nil, p.errHere()
		}
	}
	return a, nil
}

// ---- expressions ----

func (p *parser) expr() (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, NewError(191, 15, 1, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.")
	}
	return p.orExpr()
}

func (p *parser) orExpr() (Expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("OR") {
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "OR", L: l, R: r}
	}
	return l, nil
}

func (p *parser) andExpr() (Expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.acceptKw("AND") {
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: "AND", L: l, R: r}
	}
	return l, nil
}

func (p *parser) notExpr() (Expr, error) {
	if p.acceptKw("NOT") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, NewError(191, 15, 1, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.")
		}
		x, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	return p.predicate()
}

func (p *parser) predicate() (Expr, error) {
	if p.acceptKw("EXISTS") {
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		s, err := p.selectStmt()
		if err != nil {
			return nil, err
		}
		return &Exists{Select: s}, p.expectOp(")")
	}
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tokOp {
		switch t.text {
		case "=", "<>", "!=", "<", ">", "<=", ">=", "!<", "!>":
			p.pos++
			r, err := p.additive()
			if err != nil {
				return nil, err
			}
			op := map[string]string{"!=": "<>", "!<": ">=", "!>": "<="}[t.text]
			if op == "" {
				op = t.text
			}
			return &Binary{Op: op, L: l, R: r}, nil
		}
		return l, nil
	}
	if p.acceptKw("IS") {
		not := p.acceptKw("NOT")
		if err := p.expectKw("NULL"); err != nil {
			return nil, err
		}
		return &IsNull{X: l, Not: not}, nil
	}
	not := false
	if p.isKw("NOT") && (p.isKwAt(1, "IN") || p.isKwAt(1, "LIKE") || p.isKwAt(1, "BETWEEN")) {
		p.pos++
		not = true
	}
	switch {
	case p.acceptKw("IN"):
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		in := &InList{X: l, Not: not}
		if p.isKw("SELECT") {
			if in.Sub, err = p.selectStmt(); err != nil {
				return nil, err
			}
		} else {
			if in.List, err = commaList(p, p.expr); err != nil {
				return nil, err
			}
		}
		return in, p.expectOp(")")
	case p.acceptKw("LIKE"):
		pat, err := p.additive()
		if err != nil {
			return nil, err
		}
		lk := &Like{X: l, Pattern: pat, Not: not}
		if p.acceptKw("ESCAPE") {
			if lk.Escape, err = p.additive(); err != nil {
				return nil, err
			}
		}
		return lk, nil
	case p.acceptKw("BETWEEN"):
		lo, err := p.additive()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("AND"); err != nil {
			return nil, err
		}
		hi, err := p.additive()
		if err != nil {
			return nil, err
		}
		return &Between{X: l, Lo: lo, Hi: hi, Not: not}, nil
	}
	if not {
		return nil, p.errHere()
	}
	return l, nil
}

func (p *parser) additive() (Expr, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for p.isOp("+") || p.isOp("-") || p.isOp("&") || p.isOp("|") || p.isOp("^") {
		op := p.next().text
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: op, L: l, R: r}
	}
	return l, nil
}

func (p *parser) multiplicative() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.isOp("*") || p.isOp("/") || p.isOp("%") {
		op := p.next().text
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &Binary{Op: op, L: l, R: r}
	}
	return l, nil
}

// collate accepts `expr COLLATE name` and ignores the collation: the lab has one (CI_AS).
func (p *parser) collate(e Expr, err error) (Expr, error) {
	if err == nil && p.acceptKw("COLLATE") {
		if _, err := p.identOrKeyword(); err != nil {
			return nil, err
		}
	}
	return e, err
}

func (p *parser) unary() (Expr, error) {
	if p.isOp("-") || p.isOp("+") || p.isOp("~") {
		op := p.next().text
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return nil, NewError(191, 15, 1, "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.")
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if lit, ok := x.(*Literal); ok && op == "-" && lit.Val.T.Kind == KindNumeric && lit.Val.d != nil {
			v := lit.Val
			v.d = new(big.Int).Neg(v.d)
			return &Literal{Val: v}, nil
		}
		return &Unary{Op: op, X: x}, nil
	}
	return p.collate(p.primary())
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tokNumber:
		p.pos++
		v, err := numberLiteral(t.text)
		if err != nil {
			return nil, err
		}
		return &Literal{Val: v}, nil
	case tokString:
		p.pos++
		n := len(t.text)
		if n == 0 {
			n = 1
		}
		if n > 8000 {
			n = MaxLength
		}
		return &Literal{Val: String(VarChar(n), t.text)}, nil
	case tokNString:
		p.pos++
		return &Literal{Val: NStr(t.text)}, nil
	case tokVar:
		p.pos++
		return &VarRef{Name: t.text}, nil
	case tokGlobal:
		p.pos++
		return &GlobalRef{Name: strings.ToUpper(t.text)}, nil
	case tokOp:
		if t.text == "(" {
			p.pos++
			if p.isKw("SELECT") {
				s, err := p.selectStmt()
				if err != nil {
					return nil, err
				}
				return &Subquery{Select: s}, p.expectOp(")")
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expectOp(")")
		}
		return nil, p.errHere()
	case tokQuoted:
		return p.columnRef()
	case tokIdent:
		up := t.upper()
		switch up {
		case "NULL":
			p.pos++
			return &Literal{Val: Value{Null: true}}, nil
		case "CASE":
			return p.caseExpr()
		case "CAST", "TRY_CAST":
			if !p.isOpAt(1, "(") {
				break
			}
			p.pos += 2
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectKw("AS"); err != nil {
				return nil, err
			}
			typ, err := p.dataType()
			if err != nil {
				return nil, err
			}
			return &Cast{X: x, To: typ, Try: up == "TRY_CAST"}, p.expectOp(")")
		case "CONVERT", "TRY_CONVERT":
			if !p.isOpAt(1, "(") {
				return nil, p.errHere()
			}
			p.pos += 2
			typ, err := p.dataType()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			c := &Cast{X: x, To: typ, Try: up == "TRY_CONVERT"}
			if p.acceptOp(",") {
				if c.Style, err = p.expr(); err != nil {
					return nil, err
				}
			}
			return c, p.expectOp(")")
		}
		if reserved[up] && up != "LEFT" && up != "RIGHT" {
			return nil, p.errHere()
		}
		if p.isOpAt(1, "(") {
			return p.funcCall()
		}
		return p.columnRef()
	}
	return nil, p.errHere()
}

func (p *parser) isOpAt(n int, op string) bool {
	t := p.peekAt(n)
	return t.kind == tokOp && t.text == op
}

func (p *parser) columnRef() (Expr, error) {
	var parts []string
	for {
		part, err := p.identOrKeyword()
		if err != nil {
			return nil, err
		}
		parts = append(parts, part)
		if !p.isOp(".") || len(parts) == 4 {
			break
		}
		p.pos++
	}
	// schema-qualified function call: dbo.fn(…) is not supported; sys.fn_… neither
	if p.isOp("(") {
		return nil, ErrUnknownFunction(strings.Join(parts, "."))
	}
	return &ColumnRef{Parts: parts}, nil
}

func (p *parser) funcCall() (Expr, error) {
	e, err := p.funcCallArgs()
	if err != nil || !p.isKw("OVER") {
		return e, err
	}
	p.pos++
	f := e.(*FuncCall)
	f.Over = &WindowSpec{}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	if p.acceptKw("PARTITION") {
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		var err error
		if f.Over.PartitionBy, err = commaList(p, p.expr); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("ORDER") {
		if err := p.expectKw("BY"); err != nil {
			return nil, err
		}
		var err error
		if f.Over.OrderBy, err = p.orderItems(); err != nil {
			return nil, err
		}
	}
	return f, p.expectOp(")")
}

// commaList parses one or more items separated by commas (select lists, FROM,
// GROUP BY, ORDER BY, IN lists, PARTITION BY, function arguments).
func commaList[T any](p *parser, item func() (T, error)) ([]T, error) {
	var out []T
	for {
		x, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// orderItems parses `expr [ASC | DESC], …`, the ORDER BY of a query and of OVER.
func (p *parser) orderItems() ([]OrderItem, error) {
	return commaList(p, func() (OrderItem, error) {
		e, err := p.expr()
		if err != nil {
			return OrderItem{}, err
		}
		item := OrderItem{Expr: e}
		if p.acceptKw("DESC") {
			item.Desc = true
		} else {
			p.acceptKw("ASC")
		}
		return item, nil
	})
}

func (p *parser) funcCallArgs() (Expr, error) {
	name := p.next().upper()
	p.pos++ // (
	f := &FuncCall{Name: name}
	if p.acceptOp(")") {
		return f, nil
	}
	if p.acceptOp("*") {
		f.Star = true
		return f, p.expectOp(")")
	}
	if p.acceptKw("DISTINCT") {
		f.Distinct = true
	} else {
		p.acceptKw("ALL")
	}
	var err error
	if f.Args, err = commaList(p, p.expr); err != nil {
		return nil, err
	}
	return f, p.expectOp(")")
}

func (p *parser) caseExpr() (Expr, error) {
	p.pos++
	c := &Case{}
	var err error
	if !p.isKw("WHEN") {
		if c.Operand, err = p.expr(); err != nil {
			return nil, err
		}
	}
	for p.acceptKw("WHEN") {
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("THEN"); err != nil {
			return nil, err
		}
		res, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Result: res})
	}
	if len(c.Whens) == 0 {
		return nil, p.errHere()
	}
	if p.acceptKw("ELSE") {
		if c.Else, err = p.expr(); err != nil {
			return nil, err
		}
	}
	return c, p.expectKw("END")
}

// numberLiteral types a numeric literal as SQL Server does: an integer that fits int is int,
// a larger integer or a decimal is numeric(p,s), and one with an exponent is float.
func numberLiteral(text string) (Value, error) {
	if strings.ContainsAny(text, "eE") {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return Value{}, ErrSyntax(text)
		}
		return Float(f), nil
	}
	intPart, frac, _ := strings.Cut(text, ".")
	digitsText := strings.TrimLeft(intPart+frac, "0")
	if frac == "" {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil && n <= 2147483647 {
			return Int(int32(n)), nil
		}
	}
	n, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return Value{}, ErrSyntax(text)
	}
	prec := len(digitsText)
	if prec < len(frac) {
		prec = len(frac)
	}
	if prec == 0 {
		prec = 1
	}
	if prec > 38 {
		return Value{}, NewError(1007, 15, 1, "The number '%s' is out of the range for numeric representation (maximum precision 38).", text)
	}
	return Value{T: Numeric(prec, len(frac)), d: n}, nil
}
