package engine

import (
	"fmt"
	"strings"
)

// ObjectName is a one- to four-part name as written (empty parts omitted on the left):
// [server.][database.][schema.]name.
type ObjectName struct {
	Server   string
	Database string
	Schema   string
	Name     string
}

// String renders the name as written, e.g. "msdb.dbo.sysjobs" or "msdb..sysjobs".
func (o ObjectName) String() string {
	var parts []string
	switch {
	case o.Server != "":
		parts = []string{o.Server, o.Database, o.Schema, o.Name}
	case o.Database != "":
		parts = []string{o.Database, o.Schema, o.Name}
	case o.Schema != "":
		parts = []string{o.Schema, o.Name}
	default:
		parts = []string{o.Name}
	}
	return strings.Join(parts, ".")
}

// Statement is one parsed T-SQL statement.
type Statement interface{ stmt() }

// Effect is a statement with effects outside the engine (RESTORE, BACKUP, ALTER DATABASE, EXEC,
// KILL). The engine parses it and hands it, with evaluated arguments, to Backend.Execute.
type Effect interface {
	Statement
	effect()
}

// Expr is a parsed expression.
type Expr interface{ expr() }

// ---- statements handled by the engine itself ----

// SelectStmt is a SELECT query.
type SelectStmt struct {
	Distinct bool
	Top      Expr // nil without TOP
	Items    []SelectItem
	From     []TableExpr // comma-separated sources (cross join)
	Where    Expr
	GroupBy  []Expr
	Having   Expr
	OrderBy  []OrderItem // for a UNION, the ORDER BY of the whole union (on its first member)
	Offset   Expr        // ORDER BY … OFFSET n ROWS (nil without)
	Fetch    Expr        // … FETCH FIRST|NEXT n ROWS ONLY (nil without)
	// Union is the next member of `… UNION [ALL] …`; UnionAll says whether ALL was written.
	Union    *SelectStmt
	UnionAll bool
	// With holds the common table expressions of `WITH name AS (…) SELECT …` (non-recursive).
	With []CTE
}

// CTE is one common table expression.
type CTE struct {
	Name    string
	Columns []string // optional column names
	Select  *SelectStmt
}

// SelectItem is one select-list entry: an expression with an optional alias, `*`/`t.*`, or an
// assignment `@v = expr`.
type SelectItem struct {
	Expr      Expr
	Alias     string
	Star      bool
	StarOf    string // qualifier of t.*
	AssignVar string
}

// OrderItem is one ORDER BY key.
type OrderItem struct {
	Expr Expr
	Desc bool
}

// TableExpr is a FROM source.
type TableExpr interface{ tableExpr() }

// TableRef is a named table or view with an optional alias.
type TableRef struct {
	Name  ObjectName
	Alias string
}

// JoinKind is INNER, LEFT, RIGHT, FULL or CROSS.
type JoinKind uint8

// Join kinds.
const (
	JoinInner JoinKind = iota
	JoinLeft
	JoinRight
	JoinFull
	JoinCross
)

// Join is `left <kind> JOIN right ON cond`.
type Join struct {
	Left, Right TableExpr
	Kind        JoinKind
	On          Expr
}

// DerivedTable is `(SELECT …) AS alias`.
type DerivedTable struct {
	Select *SelectStmt
	Alias  string
}

// UseStmt is `USE db`.
type UseStmt struct{ Database string }

// SetOptionStmt is `SET <option> <value>` (ANSI_NULLS ON, NOCOUNT ON, TEXTSIZE n, …).
type SetOptionStmt struct {
	Option string // upper case, e.g. "NOCOUNT", "TRANSACTION ISOLATION LEVEL"
	Value  string // upper case as written, e.g. "ON", "READ COMMITTED", "2147483647"
}

// DeclareStmt is `DECLARE @a type [= expr], …`.
type DeclareStmt struct{ Vars []VarDecl }

// VarDecl is one declared variable.
type VarDecl struct {
	Name string
	Type Type
	Init Expr
}

// SetVarStmt is `SET @v = expr`.
type SetVarStmt struct {
	Name string
	Expr Expr
}

// PrintStmt is `PRINT expr`.
type PrintStmt struct{ Expr Expr }

// WaitForStmt is `WAITFOR DELAY 'hh:mm:ss[.fff]'`.
type WaitForStmt struct{ Delay Expr }

// TransactionStmt is BEGIN TRAN / COMMIT / ROLLBACK; the lab accepts them and keeps no undo log.
type TransactionStmt struct{ Verb string }

// InsertStmt is `INSERT [INTO] t [(cols)] VALUES (…), … | SELECT …`.
type InsertStmt struct {
	Table   ObjectName
	Columns []string
	Rows    [][]Expr
	Select  *SelectStmt
}

// ---- effects, handed to the backend ----

// RestoreKind says which RESTORE statement was written.
type RestoreKind uint8

// RESTORE statement kinds.
const (
	RestoreDatabase RestoreKind = iota
	RestoreLog
	RestoreHeaderOnly
	RestoreFileListOnly
	RestoreVerifyOnly
)

// String names the kind as the 3013 trailer does ("RESTORE LOG").
func (k RestoreKind) String() string {
	return [...]string{"RESTORE DATABASE", "RESTORE LOG", "RESTORE HEADERONLY", "RESTORE FILELIST", "RESTORE VERIFYONLY"}[k]
}

// Option is one WITH option of BACKUP/RESTORE: a keyword with an optional value
// (`NORECOVERY`, `STANDBY = N'f'`, `STATS = 10`, `MOVE 'a' TO 'b'` gives Value "a", To "b").
type Option struct {
	Name  string // upper case
	Value Value  // evaluated; NULL when absent
	To    Value  // MOVE … TO …
}

// RestoreStmt is RESTORE DATABASE|LOG|HEADERONLY|FILELISTONLY|VERIFYONLY
// (sql-docs restore-statements-transact-sql.md).
type RestoreStmt struct {
	Kind     RestoreKind
	Database string   // empty for HEADERONLY/FILELISTONLY/VERIFYONLY
	Disks    []string // FROM DISK = … (evaluated)
	Options  []Option
	optExprs []optionExpr
	diskExpr []Expr
}

// Has reports whether the WITH clause names option (case-insensitive).
func (r *RestoreStmt) Has(option string) bool { return hasOption(r.Options, option) }

// Get returns the value of a WITH option and whether it is present.
func (r *RestoreStmt) Get(option string) (Value, bool) { return getOption(r.Options, option) }

// BackupStmt is BACKUP DATABASE|LOG db TO DISK = … [WITH …] (sql-docs backup-transact-sql.md).
type BackupStmt struct {
	Log      bool // BACKUP LOG (else DATABASE)
	Database string
	Disks    []string
	Options  []Option
	optExprs []optionExpr
	diskExpr []Expr
}

// Has reports whether the WITH clause names option (case-insensitive).
func (b *BackupStmt) Has(option string) bool { return hasOption(b.Options, option) }

// AlterDatabaseStmt is `ALTER DATABASE db SET …` with one option
// (sql-docs alter-database-transact-sql-set-options.md, …-database-mirroring.md).
type AlterDatabaseStmt struct {
	Database string
	// Option is the upper-case option: PARTNER, WITNESS, OFFLINE, ONLINE, EMERGENCY, SINGLE_USER,
	// RESTRICTED_USER, MULTI_USER, READ_ONLY, READ_WRITE, RECOVERY.
	Option string
	// Action: for PARTNER one of FAILOVER, FORCE_SERVICE_ALLOW_DATA_LOSS, OFF, SUSPEND, RESUME, SAFETY,
	// TIMEOUT, ADDRESS (`= 'TCP://…'`); for WITNESS OFF or ADDRESS; for RECOVERY FULL, BULK_LOGGED, SIMPLE.
	Action string
	// Value is SAFETY's FULL/OFF or the partner/witness address.
	Value string
	// Timeout is TIMEOUT's seconds.
	Timeout int
	// Termination is "", "ROLLBACK IMMEDIATE", "ROLLBACK AFTER" or "NO_WAIT".
	Termination string
	// RollbackAfter is ROLLBACK AFTER's seconds.
	RollbackAfter int
}

// ExecStmt is `EXEC[UTE] [@rc =] proc [args]`, and an RPC call by procedure name.
type ExecStmt struct {
	ReturnVar string
	Proc      ObjectName
	Args      []ProcArg
}

// ProcArg is one procedure argument: named (`@job_id = @b`) or positional (Name empty). Value is
// evaluated before the backend sees it; a bare identifier argument becomes an nvarchar string,
// as SQL Server allows (`exec sp_delete_log_shipping_secondary_database mgc`).
type ProcArg struct {
	Name   string
	Value  Value
	Output bool
	expr   Expr
}

// Arg returns the argument named name (with or without '@', case-insensitive), else the positional
// argument at index pos (pass -1 for none).
func (e *ExecStmt) Arg(name string, pos int) (Value, bool) {
	name = strings.TrimPrefix(name, "@")
	for _, a := range e.Args {
		if a.Name != "" && strings.EqualFold(strings.TrimPrefix(a.Name, "@"), name) {
			return a.Value, true
		}
	}
	if pos >= 0 && pos < len(e.Args) && e.Args[pos].Name == "" {
		return e.Args[pos].Value, true
	}
	return Value{}, false
}

// IfStmt is `IF cond statement-or-block [ELSE statement-or-block]`.
type IfStmt struct {
	Cond       Expr
	Then, Else []Statement
}

// BlockStmt is `BEGIN … END`.
type BlockStmt struct{ Stmts []Statement }

// ReturnStmt is `RETURN`: the batch ends.
type ReturnStmt struct{}

// KillStmt is `KILL spid`.
type KillStmt struct{ SPID int }

func (*SelectStmt) stmt()        {}
func (*UseStmt) stmt()           {}
func (*SetOptionStmt) stmt()     {}
func (*DeclareStmt) stmt()       {}
func (*SetVarStmt) stmt()        {}
func (*PrintStmt) stmt()         {}
func (*WaitForStmt) stmt()       {}
func (*TransactionStmt) stmt()   {}
func (*InsertStmt) stmt()        {}
func (*RestoreStmt) stmt()       {}
func (*BackupStmt) stmt()        {}
func (*AlterDatabaseStmt) stmt() {}
func (*ExecStmt) stmt()          {}
func (*KillStmt) stmt()          {}
func (*IfStmt) stmt()            {}
func (*BlockStmt) stmt()         {}
func (*ReturnStmt) stmt()        {}

func (*RestoreStmt) effect()       {}
func (*BackupStmt) effect()        {}
func (*AlterDatabaseStmt) effect() {}
func (*ExecStmt) effect()          {}
func (*KillStmt) effect()          {}

func (*TableRef) tableExpr()     {}
func (*Join) tableExpr()         {}
func (*DerivedTable) tableExpr() {}

type optionExpr struct {
	name   string
	value  Expr
	target Expr
}

func hasOption(opts []Option, name string) bool {
	_, ok := getOption(opts, name)
	return ok
}

func getOption(opts []Option, name string) (Value, bool) {
	for _, o := range opts {
		if strings.EqualFold(o.Name, name) {
			return o.Value, true
		}
	}
	return Value{}, false
}

// ---- expressions ----

// Literal is a constant.
type Literal struct{ Val Value }

// ColumnRef is a column name with optional qualifiers (t.col, dbo.t.col).
type ColumnRef struct{ Parts []string }

// VarRef is a local variable or parameter @name.
type VarRef struct{ Name string }

// GlobalRef is @@NAME.
type GlobalRef struct{ Name string }

// Unary is -x, +x, ~x.
type Unary struct {
	Op string
	X  Expr
}

// Binary is an arithmetic, comparison or logical operator.
type Binary struct {
	Op   string // + - * / % = <> < > <= >= AND OR
	L, R Expr
}

// Not is NOT x.
type Not struct{ X Expr }

// IsNull is x IS [NOT] NULL.
type IsNull struct {
	X   Expr
	Not bool
}

// InList is x [NOT] IN (list) or x [NOT] IN (subquery).
type InList struct {
	X    Expr
	List []Expr
	Sub  *SelectStmt
	Not  bool
}

// Like is x [NOT] LIKE pattern [ESCAPE e].
type Like struct {
	X, Pattern, Escape Expr
	Not                bool
}

// Between is x [NOT] BETWEEN lo AND hi.
type Between struct {
	X, Lo, Hi Expr
	Not       bool
}

// FuncCall is a built-in function or aggregate call.
type FuncCall struct {
	Name     string // upper case
	Args     []Expr
	Star     bool // COUNT(*)
	Distinct bool
	Over     *WindowSpec // ROW_NUMBER() OVER (…); nil for a plain call
}

// WindowSpec is the OVER clause of a ranking function.
type WindowSpec struct {
	PartitionBy []Expr
	OrderBy     []OrderItem
}

// Cast is CAST(x AS t) or CONVERT(t, x [, style]).
type Cast struct {
	X     Expr
	To    Type
	Style Expr
	Try   bool // TRY_CAST / TRY_CONVERT: NULL instead of a conversion error
}

// Case is CASE [operand] WHEN … THEN … [ELSE …] END.
type Case struct {
	Operand Expr
	Whens   []When
	Else    Expr
}

// When is one WHEN … THEN … arm.
type When struct{ Cond, Result Expr }

// Subquery is a scalar (SELECT …).
type Subquery struct{ Select *SelectStmt }

// Exists is EXISTS (SELECT …).
type Exists struct{ Select *SelectStmt }

func (*Literal) expr()   {}
func (*ColumnRef) expr() {}
func (*VarRef) expr()    {}
func (*GlobalRef) expr() {}
func (*Unary) expr()     {}
func (*Binary) expr()    {}
func (*Not) expr()       {}
func (*IsNull) expr()    {}
func (*InList) expr()    {}
func (*Like) expr()      {}
func (*Between) expr()   {}
func (*FuncCall) expr()  {}
func (*Cast) expr()      {}
func (*Case) expr()      {}
func (*Subquery) expr()  {}
func (*Exists) expr()    {}

// exprKey renders an expression canonically (identifiers lower-cased, keywords upper-cased), so
// that two spellings of the same expression compare equal (GROUP BY matching).
func exprKey(e Expr) string {
	var b strings.Builder
	var w func(Expr)
	list := func(es []Expr) {
		for i, x := range es {
			if i > 0 {
				b.WriteString(",")
			}
			w(x)
		}
	}
	w = func(e Expr) {
		switch e := e.(type) {
		case nil:
			b.WriteString("<nil>")
		case *Literal:
			b.WriteString("lit(" + e.Val.T.String() + ":" + e.Val.Text() + ")")
		case *ColumnRef:
			b.WriteString("col(" + strings.ToLower(strings.Join(e.Parts, ".")) + ")")
		case *VarRef:
			b.WriteString("var(" + strings.ToLower(e.Name) + ")")
		case *GlobalRef:
			b.WriteString("glob(" + e.Name + ")")
		case *Unary:
			b.WriteString("(" + e.Op)
			w(e.X)
			b.WriteString(")")
		case *Binary:
			b.WriteString("(")
			w(e.L)
			b.WriteString(" " + e.Op + " ")
			w(e.R)
			b.WriteString(")")
		case *Not:
			b.WriteString("NOT(")
			w(e.X)
			b.WriteString(")")
		case *IsNull:
			b.WriteString("ISNULL(")
			w(e.X)
			fmt.Fprintf(&b, ",%v)", e.Not)
		case *InList:
			b.WriteString("IN(")
			w(e.X)
			fmt.Fprintf(&b, ",%v,", e.Not)
			list(e.List)
			if e.Sub != nil {
				fmt.Fprintf(&b, "sub%p", e.Sub)
			}
			b.WriteString(")")
		case *Like:
			b.WriteString("LIKE(")
			list([]Expr{e.X, e.Pattern, e.Escape})
			fmt.Fprintf(&b, ",%v)", e.Not)
		case *Between:
			b.WriteString("BETWEEN(")
			list([]Expr{e.X, e.Lo, e.Hi})
			fmt.Fprintf(&b, ",%v)", e.Not)
		case *FuncCall:
			fmt.Fprintf(&b, "%s(%v,%v,", e.Name, e.Star, e.Distinct)
			list(e.Args)
			b.WriteString(")")
		case *Cast:
			b.WriteString("CAST(")
			w(e.X)
			b.WriteString("," + e.To.String() + ",")
			w(e.Style)
			b.WriteString(")")
		case *Case:
			b.WriteString("CASE(")
			w(e.Operand)
			for _, wh := range e.Whens {
				b.WriteString(";")
				w(wh.Cond)
				b.WriteString("=>")
				w(wh.Result)
			}
			b.WriteString(";else ")
			w(e.Else)
			b.WriteString(")")
		default:
			// subqueries never match another expression
			fmt.Fprintf(&b, "%T%p", e, e)
		}
	}
	w(e)
	return b.String()
}
