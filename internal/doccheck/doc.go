// Package doccheck holds the documentation to the repository it
// describes: the pictures the Markdown files show, and the tools the
// README says its two scripts install. It has tests only.
package doccheck
