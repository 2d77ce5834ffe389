-- +goose Up
-- The supervisor's trend: each queue's pending tasks and longest wait
-- (seconds), sampled into time buckets (unix ms, a multiple of the
-- sampling interval). The key makes several nodes record a bucket once
-- (INSERT ... ON CONFLICT DO NOTHING: the first sample wins). Samples
-- older than about two hours are deleted by the sampler.
CREATE TABLE tr_queue_samples (
    account_sid    TEXT NOT NULL,
    workspace_sid  TEXT NOT NULL,
    task_queue_sid TEXT NOT NULL,
    bucket         BIGINT NOT NULL,
    waiting        INTEGER NOT NULL,
    longest_wait   BIGINT NOT NULL,
    PRIMARY KEY (task_queue_sid, bucket)
);
CREATE INDEX tr_queue_samples_workspace ON tr_queue_samples (workspace_sid, bucket);
CREATE INDEX tr_queue_samples_bucket ON tr_queue_samples (bucket);

-- +goose Down
DROP TABLE tr_queue_samples;
