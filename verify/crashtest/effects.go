package crashtest

import (
	"context"
	"database/sql"
	"fmt"
)

// QueryEffects returns a Config.Effects that runs query on db, the host's
// database opened by the test. Each row the query returns is an event ID
// and a count of its effects:
//
//	SELECT event_id, COUNT(*) FROM payments GROUP BY event_id
//
// Rows with the same ID add up, so one query can count several tables
// (UNION ALL).
func QueryEffects(db *sql.DB, query string, args ...any) func(context.Context) (map[string]int, error) {
	return func(ctx context.Context) (map[string]int, error) {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("crashtest: counting effects: %w", err)
		}
		defer rows.Close()
		counts := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return nil, fmt.Errorf("crashtest: counting effects: a row is not (event ID, count): %w", err)
			}
			counts[id] += n
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("crashtest: counting effects: %w", err)
		}
		return counts, nil
	}
}
