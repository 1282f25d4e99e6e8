"""Search attributes: the SearchAttributeService handlers, conflict and slot rules, the
namespace calls, and the provisioning workflow."""
