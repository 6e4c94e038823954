"""The job scripts. This folder is shipped flat as the container's code root, so its modules
import each other as siblings and import nothing else of mlmax."""
