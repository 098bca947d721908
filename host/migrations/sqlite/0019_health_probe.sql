-- One row rewritten by every /_modhost/health check: a real write, so a full disk or a
-- read-only database shows up in the health answer, not only in failing requests.
CREATE TABLE health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
