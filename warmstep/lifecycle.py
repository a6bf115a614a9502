"""The job lifecycle: the states, the only transitions allowed, and the Redis scripts that apply
them atomically with the attempt fence.

    queued ──claim──▶ running ──finish──▶ succeeded | failed | cancelled
      │                 │  ▲
      │                 │  └─ claim again (lease expired or handed back): attempt + 1
      │                 └──── hand back (graceful stop) ──▶ queued
      └──cancel──▶ cancelled          (attempts exhausted ──▶ failed, dead-letter stream)

Fencing: every write a worker makes (state or events) names its attempt; the scripts refuse it
unless the record's ``attempt`` still equals it and the job is ``running``. A zombie worker whose
job was re-claimed (attempt + 1) can therefore no longer touch the record or the stream.

The scripts are plain Lua text (this module does no I/O): the front end and the worker each load
them into their own Redis client.
"""

from __future__ import annotations

import enum

__all__ = [
    "APPEND_EVENTS",
    "CANCEL",
    "CLAIM",
    "FENCED_SET",
    "FINISH",
    "HAND_BACK",
    "KEEP_LEASE",
    "SUBMIT",
    "TERMINAL",
    "TRANSITIONS",
    "ClaimOutcome",
    "JobStatus",
]


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.RUNNING, JobStatus.QUEUED, *TERMINAL}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


class ClaimOutcome(enum.IntEnum):
    """What CLAIM answers besides a positive attempt number."""

    CANCELLED = -1  # cancel requested while queued: now cancelled, never started
    EXHAUSTED = -2  # attempts used up: now failed, the entry in the dead-letter stream
    FINISHED = -3  # already terminal (a stale dispatch entry): acknowledge and drop


# KEYS[1] job hash, KEYS[2] event stream; optionally KEYS[3] the dead-letter stream and KEYS[4]
# the dispatch stream the entry came from.
# ARGV[1] worker id, ARGV[2] now (s), ARGV[3] max attempts, ARGV[4] claim token (unique per
# delivery a worker handles): a retried call (its reply lost in a Redis restart) answers the
# attempt it already made instead of making another. With the optional keys: ARGV[5] the
# dispatch entry's id, ARGV[6] the consumer group, ARGV[7] the job id. When the attempts are
# used up, the job fails and (with those keys) the entry moves to the dead-letter stream in the
# same step: whoever sees the job failed finds its dead letter.
CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -3 end
if status ~= 'queued' and status ~= 'running' then return -3 end
if status == 'running' and ARGV[4] ~= nil and ARGV[4] ~= ''
   and redis.call('HGET', KEYS[1], 'claim_token') == ARGV[4] then
  return tonumber(redis.call('HGET', KEYS[1], 'attempt'))
end
local function event(kind, data)
  redis.call('XADD', KEYS[2], '*', 'type', kind, 'attempt',
             redis.call('HGET', KEYS[1], 'attempt'), 'data', data)
end
if redis.call('HGET', KEYS[1], 'cancel_requested') == '1' then
  local why = 'cancelled before it started'
  if status == 'running' then why = 'cancelled while its worker was gone' end
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[2],
             'error_code', 'cancelled', 'error_message', why)
  event('status', cjson.encode({status='cancelled', reason=why}))
  return -1
end
local attempt = tonumber(redis.call('HGET', KEYS[1], 'attempt') or '0') + 1
if attempt > tonumber(ARGV[3]) then
  local reason = 'gave up after ' .. ARGV[3] ..
    ' attempts; the last worker stopped without finishing'
  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[2],
             'error_code', 'attempts_exhausted', 'error_message', reason)
  event('status', cjson.encode({status='failed', error_code='attempts_exhausted', reason=reason}))
  if #KEYS >= 4 then
    redis.call('XADD', KEYS[3], '*', 'job', ARGV[7], 'reason', reason, 'stream', KEYS[4],
               'entry', ARGV[5])
    redis.call('XACK', KEYS[4], ARGV[6], ARGV[5])
  end
  return -2
end
redis.call('HSET', KEYS[1], 'status', 'running', 'attempt', attempt, 'worker', ARGV[1],
           'claimed_at', ARGV[2], 'claim_token', ARGV[4] or '')
if not redis.call('HGET', KEYS[1], 'started_at') then
  redis.call('HSET', KEYS[1], 'started_at', ARGV[2])
end
redis.call('XADD', KEYS[2], '*', 'type', 'status', 'attempt', attempt, 'data',
           cjson.encode({status='running', worker=ARGV[1], attempt=attempt}))
return attempt
"""

# KEYS[1] job hash, KEYS[2] event stream. ARGV[1] attempt, ARGV[2] the number of the first
# event (0-based within the attempt), then (type, data) pairs. The record's ``event_seq``
# ("attempt:count") says how many events of the attempt are in the stream; events already there
# (a retried call whose reply was lost) are skipped, so each event is appended exactly once.
# Answers 1, or 0 when the fence refuses (stale attempt or job no longer running).
APPEND_EVENTS = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1]
   or redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  return 0
end
local written = 0
local mark = redis.call('HGET', KEYS[1], 'event_seq')
if mark then
  local a, n = string.match(mark, '^(%d+):(%d+)$')
  if a == ARGV[1] then written = tonumber(n) end
end
local seq = tonumber(ARGV[2])
for i = 3, #ARGV, 2 do
  if seq >= written then
    redis.call('XADD', KEYS[2], '*', 'type', ARGV[i], 'attempt', ARGV[1], 'data', ARGV[i + 1])
  end
  seq = seq + 1
end
if seq > written then
  redis.call('HSET', KEYS[1], 'event_seq', ARGV[1] .. ':' .. string.format('%d', seq))
end
return 1
"""

# KEYS[1] job hash, KEYS[2] event stream.
# ARGV[1] attempt, ARGV[2] terminal status, ARGV[3] now, ARGV[4] result JSON,
# ARGV[5] error code, ARGV[6] error message, ARGV[7] status event JSON.
# A retried call that was already applied (same attempt, same terminal status) answers 1.
FINISH = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if status == ARGV[2] then return 1 end
if status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'finished_at', ARGV[3], 'result', ARGV[4],
           'error_code', ARGV[5], 'error_message', ARGV[6])
redis.call('XADD', KEYS[2], '*', 'type', 'status', 'attempt', ARGV[1], 'data', ARGV[7])
return 1
"""

# KEYS[1] job hash, KEYS[2] event stream. ARGV[1] attempt, ARGV[2] reason.
# A worker stopping gracefully gives its running job back for immediate re-delivery (a retried
# call that was already applied answers 1).
HAND_BACK = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'queued' then return 1 end
if status ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('XADD', KEYS[2], '*', 'type', 'status', 'attempt', ARGV[1], 'data',
           cjson.encode({status='queued', reason=ARGV[2]}))
return 1
"""

# KEYS[1] job hash, KEYS[2] event stream. ARGV[1] now.
# Answers 'cancelled' (was queued: never starts), 'requested' (running: the worker stops within
# one micro-batch), or the terminal status it already had.
CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finished_at', ARGV[1],
             'cancel_requested', '1')
  redis.call('XADD', KEYS[2], '*', 'type', 'status', 'attempt',
             redis.call('HGET', KEYS[1], 'attempt'), 'data',
             cjson.encode({status='cancelled', reason='cancelled before it started'}))
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', KEYS[1], 'cancel_requested', '1')
  return 'requested'
end
return status
"""

# KEYS[1] idempotency key ('' for none), KEYS[2] job hash, KEYS[3] jobs index,
# KEYS[4] dispatch stream, KEYS[5] event stream.
# ARGV[1] job id, ARGV[2] created_at, ARGV[3] idempotency TTL (s), then hash field/value pairs.
# Answers the id of the job: the new one, or the one an earlier submit with the same key made.
SUBMIT = """
if KEYS[1] ~= '' then
  local existing = redis.call('GET', KEYS[1])
  if existing then return existing end
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('XADD', KEYS[5], '*', 'type', 'status', 'attempt', 0, 'data',
           cjson.encode({status='queued'}))
redis.call('XADD', KEYS[4], '*', 'job', ARGV[1])
return ARGV[1]
"""

# KEYS[1] dispatch stream. ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id.
# Resets the idle time of the entry only if this consumer still owns it (a plain XCLAIM with
# min-idle 0 would steal it back from the worker that reclaimed it).
KEEP_LEASE = """
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""

# KEYS[1] job hash, KEYS[2] the key to write. ARGV[1] attempt, ARGV[2] value, ARGV[3] field
# of the job hash to set as well ('' for none), ARGV[4] its value.
# Fenced write of a blob (checkpoint, artifact) and of a record field (totals).
FENCED_SET = """
if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1]
   or redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  return 0
end
if KEYS[2] ~= KEYS[1] then redis.call('SET', KEYS[2], ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]) end
return 1
"""
