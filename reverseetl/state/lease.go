package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/retl-go/retl/reverseetl"
)

var (
	leaseCols = []Column{{"SYNC", Text}, {"OWNER_RUN_ID", Text}, {"HOST", Text}, {"RENEWED_AT", Time}, {"EXPIRES_AT", Time}}
	leaseKey  = []string{"SYNC"}
)

var _ reverseetl.Leaser = (*Store)(nil)

type leaseRow struct {
	Sync      string `json:"SYNC"`
	Owner     string `json:"OWNER_RUN_ID"`
	Host      string `json:"HOST"`
	RenewedAt string `json:"RENEWED_AT"`
	ExpiresAt string `json:"EXPIRES_AT"`
}

// TakeLease implements reverseetl.Leaser with one statement, atomic in
// the database: the row of the sync in LEASES is inserted, or updated when
// this owner holds it or it expired. The row is then read back to see who
// holds it. A statement that failed because another run wrote the row at
// the same moment (a write conflict) reads back the same way.
func (s *Store) TakeLease(ctx context.Context, syncName string, owner reverseetl.LeaseOwner, ttl time.Duration) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	if s.readOnly {
		return ErrReadOnly
	}
	now := s.now().UTC()
	row := leaseRow{Sync: syncName, Owner: owner.RunID, Host: owner.Host, RenewedAt: now.Format(timeLayout), ExpiresAt: now.Add(ttl).Format(timeLayout)}
	stmt := s.leaseStatement()
	werr := chunks([]any{row}, func(array string) error {
		_, err := s.exec(ctx, stmt, array)
		return err
	})
	holder, expires, found, err := s.leaseHolder(ctx, syncName)
	switch {
	case err != nil:
		return fmt.Errorf("lease: %w", errors.Join(werr, err))
	case found && holder.RunID == owner.RunID && werr == nil:
		return nil
	case found && holder.RunID != owner.RunID:
		return &reverseetl.LeaseHeldError{Sync: syncName, Holder: holder, Expires: expires}
	case werr != nil:
		return fmt.Errorf("lease: %w", werr)
	default:
		return errors.New("lease: the lease row is missing after it was written")
	}
}

// leaseStatement writes the lease row bound as a one-element JSON array.
func (s *Store) leaseStatement() string {
	sel := s.d.FromJSON(leaseCols, s.d.Placeholder(1))
	var set []string
	for _, c := range leaseCols[1:] {
		set = append(set, c.Name+" = s."+c.Name)
	}
	if s.d.Name() == SQLite.Name() {
		t := s.tLeases
		return "INSERT INTO " + t + " (" + columnList(leaseCols, "") + ") " + sel + " WHERE true ON CONFLICT (SYNC) DO UPDATE SET " +
			strings.ReplaceAll(strings.Join(set, ", "), "s.", "excluded.") +
			" WHERE " + t + ".OWNER_RUN_ID = excluded.OWNER_RUN_ID OR " + t + ".EXPIRES_AT < excluded.RENEWED_AT"
	}
	return "MERGE INTO " + s.tLeases + " t USING (" + sel + ") s ON t.SYNC = s.SYNC" +
		" WHEN MATCHED AND (t.OWNER_RUN_ID = s.OWNER_RUN_ID OR t.EXPIRES_AT < s.RENEWED_AT) THEN UPDATE SET " + strings.Join(set, ", ") +
		" WHEN NOT MATCHED THEN INSERT (" + columnList(leaseCols, "") + ") VALUES (" + columnList(leaseCols, "s.") + ")"
}

func (s *Store) leaseHolder(ctx context.Context, syncName string) (owner reverseetl.LeaseOwner, expires string, found bool, err error) {
	q := "SELECT OWNER_RUN_ID, HOST, " + s.d.CastText("EXPIRES_AT") + " FROM " + s.tLeases + " WHERE SYNC = " + s.d.Placeholder(1)
	var host sql.NullString
	err = s.queryRow(ctx, q, syncName).Scan(&owner.RunID, &host, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return owner, "", false, nil
	}
	owner.Host = host.String
	return owner, expires, err == nil, err
}

// ReleaseLease implements reverseetl.Leaser: it deletes the sync's lease
// row if owner holds it.
func (s *Store) ReleaseLease(ctx context.Context, syncName string, owner reverseetl.LeaseOwner) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	if s.readOnly {
		return ErrReadOnly
	}
	_, err := s.exec(ctx, "DELETE FROM "+s.tLeases+" WHERE SYNC = "+s.d.Placeholder(1)+" AND OWNER_RUN_ID = "+s.d.Placeholder(2), syncName, owner.RunID)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	return nil
}
