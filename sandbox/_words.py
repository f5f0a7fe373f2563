"""Vocabulary for generated names and prose: plain English words of the kind package authors use."""

from __future__ import annotations

QUALIFIERS = (
    "async", "atomic", "auto", "better", "bright", "brisk", "calm", "clean", "clever", "cloud", "compact",
    "cool", "cozy", "crisp", "deep", "dense", "direct", "dry", "dual", "eager", "easy", "elastic", "epic",
    "even", "fair", "fast", "fine", "fluent", "free", "fresh", "full", "fuzzy", "gentle", "giant", "glad",
    "grand", "green", "happy", "hyper", "ideal", "instant", "iron", "jolly", "keen", "kind", "lazy", "lean",
    "light", "little", "live", "local", "lucky", "magic", "main", "mega", "micro", "mini", "modern", "neat",
    "nimble", "noble", "open", "plain", "polar", "prime", "proper", "pure", "quick", "quiet", "rapid", "rare",
    "ready", "real", "red", "rich", "robust", "round", "safe", "sharp", "simple", "sleek", "slim", "smart",
    "smooth", "snappy", "solid", "sonic", "spare", "steady", "still", "strict", "super", "swift", "tidy",
    "tiny", "true", "turbo", "ultra", "vivid", "warm", "wild", "wise", "young", "zen",
)  # fmt: skip

NOUNS = (
    "agent", "anchor", "api", "arrow", "atlas", "badge", "beacon", "bench", "bridge", "broker", "buffer",
    "bundle", "cache", "canvas", "cargo", "chart", "cipher", "client", "clock", "cloud", "codec", "comet",
    "config", "cookie", "core", "cursor", "dash", "date", "deck", "diff", "digest", "dock", "draft", "echo",
    "engine", "event", "fetch", "field", "filter", "flag", "flow", "forge", "form", "frame", "gate", "glob",
    "graph", "grid", "guard", "hash", "helper", "hook", "index", "inbox", "kit", "lab", "ledger", "lens",
    "lint", "loader", "lock", "log", "loop", "mapper", "marker", "matrix", "mesh", "meter", "mirror", "model",
    "monitor", "node", "notes", "orbit", "pack", "pager", "panel", "parser", "path", "pipe", "pixel", "plot",
    "pool", "portal", "probe", "proxy", "pulse", "query", "queue", "radar", "relay", "render", "report",
    "router", "runner", "scheduler", "schema", "scope", "shell", "signal", "sketch", "socket", "sort",
    "spark", "spec", "stack", "stash", "store", "stream", "style", "switch", "sync", "table", "tag", "task",
    "template", "term", "theme", "ticker", "timer", "token", "tower", "trace", "track", "tree", "tunnel",
    "type", "utils", "valve", "vault", "view", "wallet", "watch", "wave", "widget", "worker", "yaml", "zip",
)  # fmt: skip

OWNERS = (
    "acme-labs", "adalov", "aiko-dev", "amir", "anvil-works", "arcturus", "astrid", "bkowalski", "bluefin",
    "brightside", "carlota", "cedar-dev", "chenwei", "codeforge", "coral-oss", "dmitri", "dotnine",
    "ember-collective", "fjord", "foxglove", "gaia-tools", "greta", "hanna-k", "harbor-oss", "helix-io",
    "ibrahim", "indigo-labs", "isla", "jkrause", "juniper", "kaito", "kestrel", "lattice-dev", "lena-m",
    "lumen", "mateo", "meridian", "mkovac", "moss-and-co", "nadia", "nimbus-org", "noor", "oakridge",
    "olafur", "orchid-js", "pablo-r", "pebble-dev", "pinecone-oss", "priya", "quasar-team", "quinn",
    "raven-tools", "rhea", "rosalind", "sable", "sakura-dev", "sam-o", "sequoia", "sigrid", "solstice",
    "spruce-io", "stellar-oss", "tamsin", "thea", "tidewater", "tomas", "umber", "ursa-labs", "vega-dev",
    "willow", "xavier", "yuki", "zara", "zenith-oss", "zoltan",
)  # fmt: skip

VERBS = (
    "Add", "Allow", "Avoid", "Bump", "Cache", "Clarify", "Deprecate", "Document", "Drop", "Ensure", "Expose",
    "Fix", "Handle", "Improve", "Inline", "Preserve", "Reduce", "Remove", "Rename", "Respect", "Restore",
    "Speed up", "Support", "Upgrade", "Validate",
)  # fmt: skip

OBJECTS = (
    "a race when closing the pool", "async iterators", "custom headers", "empty input", "error messages",
    "Node 22", "Python 3.13", "Ruby 3.4", "retries on timeout", "the CLI help text", "the default timeout",
    "trailing slashes in paths", "TypeScript types", "unicode file names", "Windows paths",
    "memory use on large inputs", "the `--verbose` flag", "the config loader", "a deprecation warning",
    "relative imports", "nested options", "streaming responses", "the logger", "time zones in dates",
)  # fmt: skip
