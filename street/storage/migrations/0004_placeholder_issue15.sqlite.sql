-- Placeholder for issue 15's schema 4 (developed at the same time on its own branch): delete it when
-- rebasing onto a main that has the real 0004, so the versions stay numbered 1, 2, … without gaps.
SELECT 1;
