//! The tests' deterministic random numbers: one xorshift64 step (Marsaglia's 13, 7, 17),
//! so every test's inputs are the same on every run and machine.

/// Advances `state` (never 0) by one xorshift64 step and returns the new state.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
