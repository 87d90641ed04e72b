package handlers

// ContractChecker is the checker of this package's API exchanges (see
// contractChecker), for the browser tests of package handlers_test: what
// they send over real connections is validated, and counted as exercised,
// like every exchange of the in-process tests.
var ContractChecker = contractChecker
