// Package resource defines what provex stores: the provinces that own
// records, resource names (provinces/{province}/{collection}/{id}) and the
// kinds of resource with their filterable fields. It is the vocabulary shared
// by storage, services, sync and the client.
package resource
