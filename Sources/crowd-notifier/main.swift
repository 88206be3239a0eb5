import CrowdKitCore
print("crowd-notifier")
