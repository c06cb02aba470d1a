//! The router: a public model name over a group of deployments (issue 5 fills this in).
