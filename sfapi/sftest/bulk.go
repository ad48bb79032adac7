package sftest

type bulkJob struct{}

func (o *Org) routeJobs(c *reqCtx) { notFound(c.w) }
