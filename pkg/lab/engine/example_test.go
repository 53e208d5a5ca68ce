package engine_test

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sqldr/sqldr/pkg/lab/engine"
)

// A backend supplies rows and effects; the engine evaluates SQL over them. Here the Static backend
// holds one sys.databases row, and a session runs a query and an effect against it.
func Example() {
	now := time.Date(2024, 3, 10, 14, 30, 0, 0, time.UTC)
	b := engine.NewStatic(engine.ServerInfo{Name: "SQLB1", Now: now},
		[]engine.DatabaseInfo{{ID: 1, Name: "master"}, {ID: 5, Name: "mgc", State: engine.StateRestoring}})
	row := engine.SysDatabases.NewRow()
	engine.SysDatabases.Set(row, "name", engine.Sysname("mgc"))
	engine.SysDatabases.Set(row, "database_id", engine.Int(5))
	engine.SysDatabases.Set(row, "state_desc", engine.NStr("RESTORING"))
	if err := b.AddRows(engine.SysDatabases, "", row); err != nil {
		panic(err)
	}

	e := engine.New(zap.NewNop(), b, nil)
	s := e.NewSession(engine.SessionInfo{SPID: 51, Login: "sa", Sysadmin: true, Database: "master"}, nil)
	out := &engine.Recorder{}
	err := s.Execute(context.Background(), `SELECT name, state_desc FROM sys.databases WHERE name = N'MGC';
		RESTORE DATABASE mgc WITH RECOVERY;
		USE mgc`, nil, out)
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Results[0].Rows[0][0].Text(), out.Results[0].Rows[0][1].Text())
	restore := b.Executed()[0].(*engine.RestoreStmt)
	fmt.Println(restore.Kind, restore.Database, restore.Has("RECOVERY"))
	fmt.Println(out.Errors()[0].Number, out.Errors()[0].Message)
	// Output:
	// mgc RESTORING
	// RESTORE DATABASE mgc true
	// 927 Database 'mgc' cannot be opened. It is in the middle of a restore.
}
