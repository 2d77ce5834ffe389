package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/internal/store/storetest"
)

// The shared store machinery, on both backends: rebinding, transactions,
// conflict detection, keyset paging.
func TestStore(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := func(q store.Querier, sid string) error {
			_, err := q.ExecContext(ctx, "INSERT INTO accounts (sid, friendly_name, auth_token, status, is_main, date_created, date_updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
				sid, "n", "t", "active", false, store.Now(), store.Now())
			return err
		}
		if err := ins(db, "AC1"); err != nil {
			t.Fatal(err)
		}
		if err := ins(db, "AC1"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate insert: %v, want ErrConflict", err)
		}

		// A failed transaction leaves nothing behind.
		boom := errors.New("boom")
		err := db.InTx(ctx, func(q store.Querier) error {
			if err := ins(q, "AC2"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE sid = ?", "AC2").Scan(&n); err != nil || n != 0 {
			t.Fatalf("rolled-back row visible: n=%d err=%v", n, err)
		}
		err = db.InTx(ctx, func(q store.Querier) error {
			if err := ins(q, "AC3"); err != nil {
				return err
			}
			return q.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE sid = ?", "AC3").Scan(&n)
		})
		if err != nil || n != 1 {
			t.Fatalf("committed tx: n=%d err=%v", n, err)
		}
		if err := store.NoRows(db.QueryRowContext(ctx, "SELECT sid FROM accounts WHERE sid = ?", "nope").Scan(new(string))); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("NoRows: %v", err)
		}

		// Keyset pages walk forward and back without skipping or repeating,
		// also when rows are added between pages.
		for i := 0; i < 7; i++ {
			if err := ins(db, fmt.Sprintf("ACk%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		page := func(after, before int64, limit int) []int64 {
			cond, tail := store.Keyset("seq", after, before, limit)
			rows, err := db.QueryContext(ctx, "SELECT seq FROM accounts WHERE sid LIKE ?"+cond+tail, "ACk%")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []int64
			for rows.Next() {
				var s int64
				rows.Scan(&s)
				out = append(out, s)
			}
			return out
		}
		p1 := page(0, 0, 3)
		if err := ins(db, "ACk-late"); err != nil {
			t.Fatal(err)
		}
		p2 := page(p1[2], 0, 3)
		p3 := page(p2[2], 0, 3)
		all := append(append(append([]int64{}, p1...), p2...), p3...)
		if len(all) != 8 {
			t.Fatalf("pages %v %v %v: want 8 rows in all", p1, p2, p3)
		}
		for i := 1; i < len(all); i++ {
			if all[i] <= all[i-1] {
				t.Fatalf("rows out of order or repeated: %v", all)
			}
		}
		back := page(0, p2[0], 3)
		if len(back) != 3 || back[0] != p1[2] || back[2] != p1[0] {
			t.Fatalf("backward page %v, want %v reversed", back, p1)
		}
	})
}

// Opening the same SQLite file twice runs migrations once and keeps data.
func TestReopenSQLite(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO accounts (sid, friendly_name, auth_token, date_created, date_updated) VALUES (?, ?, ?, ?, ?)", "ACx", "n", "t", 1, 1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = store.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after reopen: n=%d err=%v", n, err)
	}
}
