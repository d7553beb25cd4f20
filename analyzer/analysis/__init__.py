"""What the findings mean for the cluster: verdict, inventory, log story, recovery forecast and deadlines."""
