-- Placeholder for issue 14's schema 3 (security), so that issue 15's schema 4 numbers without a gap.
-- Deleted when this branch is rebased onto a main that has the real 0003.
SELECT 1;
