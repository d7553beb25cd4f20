"""The remediation table's rows, one module per distribution (the table itself: ``checks/remediation.py``).

Each module declares ``TABLE``: ``(finding id, Distribution) -> Procedure``, where a procedure turns
the load a finding is about into the steps to copy (paths, renew names and node filled in). A
procedure may look at *what* the load is (a CA, the kubelet's client, a kubeconfig): that decides
the tool. It never looks at the finding id: the id chose the procedure.
"""
