"""socklab tests (tests); a package so that same-named modules in two folders import apart."""
