/* placeholder: the survey widget */
