// Package keepalived reads keepalived's configuration the way keepalived
// does (include files, @ conditional lines, $VAR definitions) and converts
// it into a havip configuration, reporting every directive it could not
// carry over with its file, its line and what havip does instead.
package keepalived
