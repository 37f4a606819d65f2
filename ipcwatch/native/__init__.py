"""The compiled helpers and their pure-Python twins: each module here picks the helper when it was built (see
`compiled`), else its twin. Importing this package loads nothing: a command loads only the helpers it uses."""
