"""Rate limits: who may try again, and when (docs/api.md, `RATE_LIMITED`).

- `counters`: where the counts live: Redis when one is configured (shared by every worker
  and every dyno), else this process; with Redis down, this process takes over and says so
  in the log. Never an unlimited fallback.
- `clients`: the client's address, from `X-Forwarded-For` as far as TRUSTED_PROXY_COUNT
  trusts it.
- `logins`: failed logins by username and by address, signups by address.
- `passwords`: the share of a worker's CPU that password checks may take.
- `budget`: each viewer's budget of estimated query cost per minute.

Each refusal is a `schema.errors.RateLimited`, with the whole seconds to wait.
"""
